#include "agentd/policy/loader.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "agentd/policy/node_reader.hpp"
#include "agentd/policy/sandbox_reader.hpp"
#include "agentd/policy/yaml_tree.hpp"

namespace agentd::policy {
namespace fs = std::filesystem;
namespace {

constexpr const char* kApiVersion = "agentd/v1";

// Parses one file's YAML into the shared PolicySet, collecting every
// problem instead of stopping at the first.
class FileReader : NodeReader {
 public:
  FileReader(std::string file, PolicySet& set, std::vector<Diagnostic>& errors, std::vector<Diagnostic>& warnings)
      : NodeReader(std::move(file), errors), set_(set), warnings_(warnings) {}

  std::optional<TenantPolicy> read(const std::string& text);

 private:
  void read_inference(const YamlNode& list, TenantPolicy& tenant);
  std::optional<Rule> read_rule(const YamlNode& node, size_t index, const std::string& tenant);
  std::optional<Selector> read_selector(const YamlNode& node, const std::string& tenant);
  std::vector<uint32_t> read_endpoints(const YamlNode& list, EndpointKind kind, const std::string& path,
                                       const std::string& tenant);
  std::optional<Endpoint> read_endpoint(const YamlNode& node, EndpointKind kind, std::string path,
                                        const std::string& tenant);
  std::optional<std::vector<PortRange>> read_ports(const YamlNode& node);
  void warn_denied_inference(const TenantPolicy& tenant);

  PolicySet& set_;
  std::vector<Diagnostic>& warnings_;
};

std::optional<std::vector<PortRange>> FileReader::read_ports(const YamlNode& node) {
  if (!node.is_sequence()) {
    error(node, "ports must be a list, e.g. [80, 443, \"8000-8100\"]");
    return std::nullopt;
  }
  if (node.size() == 0) {
    error(node, "ports is an empty list: omit it to mean every port");
    return std::nullopt;
  }
  std::vector<PortRange> ports;
  bool ok = true;
  for (const auto& item : node.items()) {
    if (!item.is_scalar()) {
      error(item, "a port is a number (443) or a range string (\"8000-8100\")");
      ok = false;
      continue;
    }
    const std::string text(item.scalar());
    auto parse_port = [&](std::string_view digits, uint16_t& out) {
      unsigned value = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value < 1 || value > 65535)
        return false;
      out = static_cast<uint16_t>(value);
      return true;
    };
    PortRange range;
    const auto dash = text.find('-');
    const bool parsed = dash == std::string::npos
                            ? parse_port(text, range.lo) && parse_port(text, range.hi)
                            : parse_port(std::string_view(text).substr(0, dash), range.lo) &&
                                  parse_port(std::string_view(text).substr(dash + 1), range.hi);
    if (!parsed) {
      error(item, fmt::format("\"{}\" is not a port (1-65535) or a port range like \"8000-8100\"", text));
      ok = false;
    } else if (range.lo > range.hi) {
      error(item, fmt::format("port range \"{}\" runs backwards", text));
      ok = false;
    } else {
      ports.push_back(range);
    }
  }
  if (!ok) return std::nullopt;
  return ports;
}

std::optional<Endpoint> FileReader::read_endpoint(const YamlNode& node, EndpointKind kind, std::string path,
                                                  const std::string& tenant) {
  // Unknown keys are reported, and the known ones are still checked, so
  // one run shows every problem.
  const bool keys_ok = check_map(node, path, {"cidr", "ports", "protocol"});
  if (!node.is_map()) return std::nullopt;
  Endpoint endpoint;
  endpoint.kind = kind;
  endpoint.pos = pos(node);
  endpoint.path = std::move(path);
  endpoint.tenant = tenant;
  bool ok = keys_ok;
  if (!node["cidr"]) {
    error(node, fmt::format("{}: a destination needs \"cidr\"", endpoint.path));
    ok = false;
  } else if (auto text = scalar(node["cidr"], "cidr")) {
    auto cidr = parse_cidr(*text);
    if (cidr) {
      endpoint.cidr = *cidr;
    } else {
      error(node["cidr"], cidr.error().message);
      ok = false;
    }
  } else {
    ok = false;
  }
  if (node["ports"]) {
    auto ports = read_ports(node["ports"]);
    if (ports) endpoint.ports = std::move(*ports);
    else ok = false;
  }
  if (node["protocol"]) {
    auto protocol = scalar(node["protocol"], "protocol");
    if (protocol == std::optional<std::string>("tcp")) {
      endpoint.proto_mask = AGENTD_PROTO_TCP;
    } else if (protocol == std::optional<std::string>("udp")) {
      endpoint.proto_mask = AGENTD_PROTO_UDP;
    } else {
      if (protocol) error(node["protocol"], fmt::format("protocol \"{}\" is not tcp or udp", *protocol));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return endpoint;
}

std::vector<uint32_t> FileReader::read_endpoints(const YamlNode& list, EndpointKind kind, const std::string& path,
                                                 const std::string& tenant) {
  std::vector<uint32_t> ids;
  if (!list.is_sequence()) {
    error(list, fmt::format("{} must be a list of destinations", path));
    return ids;
  }
  size_t index = 0;
  for (const auto& item : list.items()) {
    if (auto endpoint = read_endpoint(item, kind, fmt::format("{}[{}]", path, index), tenant))
      ids.push_back(set_.add_endpoint(std::move(*endpoint)));
    ++index;
  }
  return ids;
}

std::optional<Selector> FileReader::read_selector(const YamlNode& node, const std::string& tenant) {
  auto text = scalar(node, "agents");
  if (!text) return std::nullopt;
  Selector selector;
  selector.text = *text;
  selector.pos = pos(node);
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = text->find('/', start);
    parts.push_back(text->substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 3) {
    error(node, fmt::format("agents \"{}\" must be TENANT/TEAM/AGENT (globs allowed in TEAM and AGENT)", *text));
    return std::nullopt;
  }
  if (parts[0] != tenant) {
    error(node, fmt::format("agents \"{}\" must start with this file's tenant \"{}\": a tenant's policy cannot "
                            "select another tenant's agents",
                            *text, tenant));
    return std::nullopt;
  }
  for (size_t i = 1; i < 3; ++i) {
    const std::string& glob = parts[i];
    std::string problem;
    if (glob.empty()) problem = "is empty";
    int depth = 0;
    for (char c : glob) {
      const bool name_char = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
      if (c == '[') {
        if (depth++) problem = "nests brackets";
      } else if (c == ']') {
        if (!depth--) problem = "closes a bracket it never opened";
      } else if (!name_char && c != '*' && c != '?' && !(c == '!' && depth)) {
        problem = fmt::format("has the character '{}' (names are [a-z0-9_.-], globs add * ? [...])", c);
      }
    }
    if (depth > 0) problem = "opens a bracket it never closes";
    if (!problem.empty()) {
      error(node, fmt::format("agents \"{}\": {} \"{}\" {}", *text, i == 1 ? "team" : "agent", glob, problem));
      return std::nullopt;
    }
  }
  selector.tenant = parts[0];
  selector.team_glob = parts[1];
  selector.agent_glob = parts[2];
  return selector;
}

std::optional<Rule> FileReader::read_rule(const YamlNode& node, size_t index, const std::string& tenant) {
  const std::string path = fmt::format("rules[{}]", index);
  const bool keys_ok = check_map(node, path, {"agents", "allow", "deny", "sandbox"});
  if (!node.is_map()) return std::nullopt;
  Rule rule;
  rule.pos = pos(node);
  bool ok = keys_ok;
  if (!node["agents"]) {
    error(node, fmt::format("{}: a rule needs \"agents\"", path));
    ok = false;
  } else if (auto selector = read_selector(node["agents"], tenant)) {
    rule.agents = std::move(*selector);
  } else {
    ok = false;
  }
  if (!node["allow"] && !node["deny"] && !node["sandbox"]) {
    error(node, fmt::format("{}: a rule needs \"allow\", \"deny\" or \"sandbox\"", path));
    ok = false;
  }
  const size_t errors_before = errors_.size();
  if (node["allow"]) rule.allow = read_endpoints(node["allow"], EndpointKind::allow, path + ".allow", tenant);
  if (node["deny"]) rule.deny = read_endpoints(node["deny"], EndpointKind::deny, path + ".deny", tenant);
  if (node["sandbox"]) {
    if (auto section = SandboxReader(file_, errors_).read(node["sandbox"], path + ".sandbox"))
      rule.sandbox = std::make_shared<const SandboxSection>(std::move(*section));
  }
  if (!ok || errors_.size() != errors_before) return std::nullopt;
  return rule;
}

void FileReader::warn_denied_inference(const TenantPolicy& tenant) {
  for (const auto& rule : tenant.rules) {
    for (uint32_t deny_id : rule.deny) {
      const Endpoint& deny = set_.endpoint(deny_id);
      for (uint32_t inference_id : tenant.inference) {
        const Endpoint& inference = set_.endpoint(inference_id);
        if (deny.cidr.contains(inference.cidr) || inference.cidr.contains(deny.cidr))
          warnings_.push_back({deny.pos, fmt::format("{} cannot deny the tenant's inference endpoint {} ({}): "
                                                     "inference endpoints are reachable by every agent of the tenant",
                                                     deny.path, inference.path, inference.cidr.str())});
      }
    }
  }
}

std::optional<TenantPolicy> FileReader::read(const std::string& text) {
  auto [tree, problem] = YamlTree::parse(text);
  if (!tree) {
    error_at({file_, problem.line, problem.column}, "invalid YAML: " + problem.message);
    return std::nullopt;
  }
  const YamlNode root = tree->root();
  if (!root || root.is_null()) {
    error_at({file_, 1, 1}, "the file is empty: a policy file needs apiVersion and tenant");
    return std::nullopt;
  }
  const size_t errors_before = errors_.size();
  if (!check_map(root, "the policy", {"apiVersion", "tenant", "inference", "rules"}) && !root.is_map())
    return std::nullopt;
  TenantPolicy tenant;
  tenant.file = file_;
  if (!root["apiVersion"]) {
    error(root, fmt::format("missing apiVersion (this version reads \"{}\")", kApiVersion));
  } else if (auto version = scalar(root["apiVersion"], "apiVersion"); version && *version != kApiVersion) {
    error(root["apiVersion"], fmt::format("apiVersion \"{}\" is not supported (this version reads \"{}\")", *version,
                                          kApiVersion));
  }
  if (!root["tenant"]) {
    error(root, "missing tenant");
    return std::nullopt;
  }
  auto name = scalar(root["tenant"], "tenant");
  if (!name) return std::nullopt;
  if (!is_valid_name(*name)) {
    error(root["tenant"], fmt::format("tenant \"{}\" is not a valid name ([a-z0-9][a-z0-9_.-]*, at most 63)", *name));
    return std::nullopt;
  }
  tenant.tenant = *name;
  if (root["inference"]) tenant.inference = read_endpoints(root["inference"], EndpointKind::inference, "inference", *name);
  if (const YamlNode rules = root["rules"]) {
    if (!rules.is_sequence()) {
      error(rules, "rules must be a list");
    } else {
      size_t index = 0;
      for (const auto& item : rules.items()) {
        if (auto rule = read_rule(item, index, *name)) tenant.rules.push_back(std::move(*rule));
        ++index;
      }
    }
  }
  if (errors_.size() != errors_before) return std::nullopt;
  warn_denied_inference(tenant);
  return tenant;
}

// sha256 of the sources, each as its name, a NUL, its size and its text.
std::string digest_of(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  for (const auto& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  for (const auto* f : sorted) {
    const std::string header = fs::path(f->first).filename().string() + '\0' + std::to_string(f->second.size()) + '\0';
    EVP_DigestUpdate(ctx.get(), header.data(), header.size());
    EVP_DigestUpdate(ctx.get(), f->second.data(), f->second.size());
  }
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), hash, &length);
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", hash[i]);
  return hex;
}

}  // namespace

LoadResult parse_policy_texts(const std::vector<std::pair<std::string, std::string>>& files) {
  LoadResult result;
  PolicySet set;
  std::map<std::string, std::string> file_of_tenant;
  for (const auto& [file, text] : files) {
    FileReader reader(file, set, result.errors, result.warnings);
    auto tenant = reader.read(text);
    if (!tenant) continue;
    if (auto [it, inserted] = file_of_tenant.emplace(tenant->tenant, file); !inserted) {
      result.errors.push_back({{file, 1, 1},
                               fmt::format("tenant \"{}\" is already defined in {}: one file per tenant",
                                           tenant->tenant, it->second)});
      continue;
    }
    set.add_tenant(std::move(*tenant));
  }
  // In reading order, file by file, whatever order they were found in.
  auto by_position = [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.file, a.pos.line, a.pos.column) < std::tie(b.pos.file, b.pos.line, b.pos.column);
  };
  std::stable_sort(result.errors.begin(), result.errors.end(), by_position);
  std::stable_sort(result.warnings.begin(), result.warnings.end(), by_position);
  if (result.errors.empty()) {
    set.set_source_digest(digest_of(files));
    result.policy = std::move(set);
  }
  return result;
}

LoadResult load_policy_files(const std::vector<fs::path>& files) {
  std::vector<std::pair<std::string, std::string>> texts;
  LoadResult failed;
  for (const auto& file : files) {
    std::ifstream in(file);
    if (!in) {
      failed.errors.push_back({{file.string(), 0, 0}, fmt::format("cannot read the file: {}", std::strerror(errno))});
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    texts.emplace_back(file.string(), text.str());
  }
  LoadResult result = parse_policy_texts(texts);
  if (!failed.errors.empty()) {
    failed.errors.insert(failed.errors.end(), result.errors.begin(), result.errors.end());
    failed.warnings = std::move(result.warnings);
    return failed;
  }
  return result;
}

LoadResult load_policy_dir(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml") && entry.path().filename().string()[0] != '.')
      files.push_back(entry.path());
  }
  if (ec) {
    LoadResult result;
    result.errors.push_back({{dir.string(), 0, 0}, fmt::format("cannot read the policy dir: {}", ec.message())});
    return result;
  }
  std::sort(files.begin(), files.end());
  return load_policy_files(files);
}

}  // namespace agentd::policy
