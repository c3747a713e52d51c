#include "agentd/policy/loader.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "agentd/policy/names.hpp"
#include "agentd/policy/presets.hpp"
#include "agentd/policy/approval_settings.hpp"
#include "agentd/policy/sandbox_reader.hpp"
#include "agentd/policy/yaml_reader.hpp"

namespace agentd::policy {
namespace fs = std::filesystem;
namespace {

// Parses one tenant's file into the shared PolicySet, collecting every
// problem instead of stopping at the first.
class FileReader : public YamlReader {
 public:
  FileReader(std::string file, PolicySet& set, const PresetCatalog& presets, std::vector<Diagnostic>& errors,
             std::vector<Diagnostic>& warnings)
      : YamlReader(std::move(file), errors, warnings), set_(set), presets_(presets) {}

  std::optional<TenantPolicy> read(const std::string& text);

 private:
  std::optional<Rule> read_rule(const YamlNode& node, size_t index, const std::string& tenant);
  std::optional<Selector> read_selector(const YamlNode& node, const std::string& tenant);
  std::vector<uint32_t> read_endpoints(const YamlNode& list, EndpointKind kind, const std::string& path,
                                       const std::string& tenant);
  // A `preset:` entry's endpoints, or an error at the name when it is unknown.
  std::vector<Endpoint> expand(const YamlNode& node, const Endpoint& use);
  void warn_denied_inference(const TenantPolicy& tenant);
  // A rule's `inbound:` section: allow and deny lists of CIDRs.
  void read_inbound(const YamlNode& node, const std::string& path, const std::string& tenant, Rule& rule);

  PolicySet& set_;
  const PresetCatalog& presets_;
};

std::vector<Endpoint> FileReader::expand(const YamlNode& node, const Endpoint& use) {
  const std::string& name = use.preset->name;
  const Preset* preset = presets_.find(name);
  if (!preset) {
    if (presets_.is_broken(name)) return {};  // its own file's errors say why
    std::string known;
    for (const auto& n : presets_.names()) known += (known.empty() ? "" : ", ") + n;
    error(node["preset"], fmt::format("{}: unknown preset \"{}\" ({}; a preset is a file in the presets dir)", use.path,
                                      name, known.empty() ? "no presets are defined" : "defined: " + known));
    return {};
  }
  auto endpoints = expand_preset(*preset, use);
  if (endpoints.empty())
    error(node, fmt::format("{}: preset \"{}\" has no destination on the ports and protocol this entry narrows it to",
                            use.path, name));
  return endpoints;
}

std::vector<uint32_t> FileReader::read_endpoints(const YamlNode& list, EndpointKind kind, const std::string& path,
                                                 const std::string& tenant) {
  std::vector<uint32_t> ids;
  if (!list.is_sequence()) {
    error(list, fmt::format("{} must be a list of destinations", path));
    return ids;
  }
  set_.reserve_endpoints(list.size());
  size_t index = 0;
  for (const auto& item : list.items()) {
    auto endpoint = read_destination(item, fmt::format("{}[{}]", path, index++), true);
    if (!endpoint) continue;
    endpoint->kind = kind;
    endpoint->tenant = tenant;
    if (kind == EndpointKind::deny && endpoint->verify) {
      error(item["verify"], fmt::format("{}: verify applies to what a rule allows; a deny refuses the name whatever "
                                        "the connection carries",
                                        endpoint->path));
      continue;
    }
    if (!endpoint->preset) {
      ids.push_back(set_.add_endpoint(std::move(*endpoint)));
      continue;
    }
    for (auto& expanded : expand(item, *endpoint)) ids.push_back(set_.add_endpoint(std::move(expanded)));
  }
  return ids;
}

void FileReader::read_inbound(const YamlNode& node, const std::string& path, const std::string& tenant, Rule& rule) {
  check_map(node, path, {"allow", "deny"});
  if (!node.is_map()) return;
  if (!node["allow"] && !node["deny"]) {
    error(node, fmt::format("{}: needs \"allow\" or \"deny\"", path));
    return;
  }
  auto read = [&](const char* key, EndpointKind kind, std::vector<uint32_t>& into) {
    if (!node[key]) return;
    const std::string list_path = path + "." + key;
    if (!node[key].is_sequence()) {
      error(node[key], fmt::format("{} must be a list of peers", list_path));
      return;
    }
    size_t index = 0;
    for (const auto& item : node[key].items()) {
      const std::string item_path = fmt::format("{}[{}]", list_path, index++);
      if (item.is_map() && (item["host"] || item["preset"])) {
        error(item, fmt::format("{}: an inbound peer is a \"cidr\": a peer connecting in has an address, not a name "
                                "that agentd resolved",
                                item_path));
        continue;
      }
      auto endpoint = read_destination(item, item_path, false);
      if (!endpoint) continue;
      endpoint->kind = kind;
      endpoint->tenant = tenant;
      endpoint->inbound = true;
      into.push_back(set_.add_endpoint(std::move(*endpoint)));
    }
  };
  read("allow", EndpointKind::allow, rule.inbound_allow);
  read("deny", EndpointKind::deny, rule.inbound_deny);
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
  const bool keys_ok = check_map(node, path, {"agents", "allow", "deny", "inbound", "sandbox"});
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
  if (!node["allow"] && !node["deny"] && !node["inbound"] && !node["sandbox"]) {
    error(node, fmt::format("{}: a rule needs \"allow\", \"deny\", \"inbound\" or \"sandbox\"", path));
    ok = false;
  }
  const size_t errors_before = error_count();
  if (node["allow"]) rule.allow = read_endpoints(node["allow"], EndpointKind::allow, path + ".allow", tenant);
  if (node["deny"]) rule.deny = read_endpoints(node["deny"], EndpointKind::deny, path + ".deny", tenant);
  if (node["inbound"]) read_inbound(node["inbound"], path + ".inbound", tenant, rule);
  if (node["sandbox"]) {
    if (auto section = SandboxReader(*this).read(node["sandbox"], path + ".sandbox"))
      rule.sandbox = std::make_shared<const SandboxSection>(std::move(*section));
  }
  if (!ok || error_count() != errors_before) return std::nullopt;
  return rule;
}

// Whether a deny and an inference endpoint can meet: overlapping CIDRs, or
// host patterns one of which matches the other (a pattern taken as a name
// stands for the names under it).
bool overlaps(const Endpoint& deny, const Endpoint& inference) {
  if (deny.is_host() != inference.is_host()) return false;
  if (deny.is_host()) return host_matches(deny.host, inference.host) || host_matches(inference.host, deny.host);
  return deny.cidr.contains(inference.cidr) || inference.cidr.contains(deny.cidr);
}

void FileReader::warn_denied_inference(const TenantPolicy& tenant) {
  for (const auto& rule : tenant.rules) {
    for (uint32_t deny_id : rule.deny) {
      const Endpoint& deny = set_.endpoint(deny_id);
      for (uint32_t inference_id : tenant.inference) {
        const Endpoint& inference = set_.endpoint(inference_id);
        if (overlaps(deny, inference))
          warn_at(deny.pos, fmt::format("{} cannot deny the tenant's inference endpoint {} ({}): "
                                        "inference endpoints are reachable by every agent of the tenant",
                                        deny.path, inference.path, inference.target()));
      }
    }
  }
}

std::optional<TenantPolicy> FileReader::read(const std::string& text) {
  const size_t errors_before = error_count();
  std::unique_ptr<YamlTree> tree;
  const YamlNode root = read_root(text, tree, "policy",
                                  {"apiVersion", "tenant", "inference", "rules", "approvals", "refuse_with"}, "tenant");
  if (!root) return std::nullopt;
  TenantPolicy tenant;
  tenant.file = file_;
  if (!root["tenant"]) {
    error(root, "missing tenant");
    return std::nullopt;
  }
  auto name = read_name(root["tenant"], "tenant");
  if (!name) return std::nullopt;
  tenant.tenant = *name;
  if (root["inference"])
    tenant.inference = read_endpoints(root["inference"], EndpointKind::inference, "inference", *name);
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
  if (const YamlNode approvals = root["approvals"]) {
    auto settings = std::make_shared<ApprovalSettings>();
    std::vector<Diagnostic> problems;
    read_approval_settings(approvals, file_, problems, *settings);
    for (auto& problem : problems) error_at(std::move(problem.pos), std::move(problem.message));
    tenant.approvals = std::move(settings);
  }
  if (const YamlNode refuse_with = root["refuse_with"]) {
    if (auto value = scalar(refuse_with, "refuse_with")) {
      if (*value == "eperm")
        tenant.refuse_with = RefuseWith::eperm;
      else if (*value == "econnrefused")
        tenant.refuse_with = RefuseWith::econnrefused;
      else
        error(refuse_with, fmt::format("refuse_with must be eperm or econnrefused, not \"{}\"", *value));
    }
  }
  if (error_count() != errors_before) return std::nullopt;
  warn_denied_inference(tenant);
  return tenant;
}

// sha256 of the sources, each as its name (presets as "presets/NAME"), a
// NUL, its size and its text: a preset's change is a policy change.
std::string digest_of(const PolicyTexts& files, const PolicyTexts& presets) {
  std::vector<std::pair<std::string, const std::string*>> sorted;
  for (const auto& [file, text] : files) sorted.emplace_back(fs::path(file).filename().string(), &text);
  for (const auto& [file, text] : presets) sorted.emplace_back("presets/" + fs::path(file).filename().string(), &text);
  std::sort(sorted.begin(), sorted.end());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  for (const auto& [name, text] : sorted) {
    const std::string header = name + '\0' + std::to_string(text->size()) + '\0';
    EVP_DigestUpdate(ctx.get(), header.data(), header.size());
    EVP_DigestUpdate(ctx.get(), text->data(), text->size());
  }
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), hash, &length);
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", hash[i]);
  return hex;
}

// The *.yaml and *.yml files directly in `dir` (no hidden ones), sorted;
// an error when the dir cannot be read.
std::vector<fs::path> yaml_files_in(const fs::path& dir, std::error_code& ec) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml") && entry.path().filename().string()[0] != '.')
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

PolicyTexts read_texts(const std::vector<fs::path>& files, std::vector<Diagnostic>& errors) {
  PolicyTexts texts;
  for (const auto& file : files) {
    auto fail = [&](const std::string& why) { errors.push_back({{file.string(), 0, 0}, why}); };
    // Only a regular file (behind a link or not): a FIFO would block the
    // read, a device never end it.
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (ec) {
      fail(fmt::format("cannot read the file: {}", ec.message()));
      continue;
    }
    if (fs::is_directory(status)) {
      fail("is a directory, not a policy file");
      continue;
    }
    if (!fs::is_regular_file(status)) {
      fail("is not a regular file (a device, FIFO or socket): a policy file is YAML text");
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      fail(fmt::format("cannot read the file: {}", errno_text(errno)));
      continue;
    }
    // Read at most one byte past the limit: a file that grows while it
    // is read cannot take more memory than that.
    std::string text;
    char chunk[64 * 1024];
    while (in && text.size() <= kMaxPolicyFileBytes) {
      in.read(chunk, sizeof(chunk));
      text.append(chunk, static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) {
      fail(fmt::format("cannot read the file: {}", errno_text(errno)));
      continue;
    }
    if (text.size() > kMaxPolicyFileBytes) {
      fail(fmt::format("is larger than {} MiB: a policy file that large is refused", kMaxPolicyFileBytes >> 20));
      continue;
    }
    texts.emplace_back(file.string(), std::move(text));
  }
  return texts;
}

// The presets dir of a policy dir: absent is no presets, unreadable an error.
std::vector<fs::path> preset_files_of(const fs::path& policy_dir, std::vector<Diagnostic>& errors) {
  const fs::path dir = policy_dir / kPresetsDir;
  std::error_code ec;
  if (!fs::exists(dir, ec) && !ec) return {};
  auto files = yaml_files_in(dir, ec);
  if (ec) errors.push_back({{dir.string(), 0, 0}, fmt::format("cannot read the presets dir: {}", ec.message())});
  return files;
}

}  // namespace

LoadResult parse_policy_texts(const PolicyTexts& files, const PolicyTexts& presets) {
  LoadResult result;
  const PresetCatalog catalog = PresetCatalog::read(presets, result.errors, result.warnings);
  PolicySet set;
  std::map<std::string, std::string> file_of_tenant;
  for (const auto& [file, text] : files) {
    FileReader reader(file, set, catalog, result.errors, result.warnings);
    auto tenant = reader.read(text);
    if (!tenant) continue;
    if (auto [it, inserted] = file_of_tenant.emplace(tenant->tenant, file); !inserted) {
      result.errors.push_back(
          {{file, 1, 1},
           fmt::format("tenant \"{}\" is already defined in {}: one file per tenant", tenant->tenant, it->second)});
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
    set.set_source_digest(digest_of(files, presets));
    set.set_sources(std::make_shared<const PolicySources>(PolicySources{files, presets}));
    result.presets = catalog.names();
    result.policy = std::move(set);
  }
  return result;
}

LoadResult load_policy_files(const std::vector<fs::path>& files) {
  std::vector<Diagnostic> errors;
  std::vector<fs::path> tenant_files, preset_files;
  std::set<fs::path> seen_presets, dirs;
  auto add_preset = [&](const fs::path& file) {
    std::error_code ec;
    if (seen_presets.insert(fs::weakly_canonical(file, ec)).second) preset_files.push_back(file);
  };
  for (const auto& file : files) {
    if (file.parent_path().filename() == kPresetsDir) {
      add_preset(file);
    } else {
      tenant_files.push_back(file);
      dirs.insert(file.parent_path());
    }
  }
  for (const auto& dir : dirs)
    for (const auto& file : preset_files_of(dir, errors)) add_preset(file);
  PolicyTexts tenant_texts = read_texts(tenant_files, errors);
  PolicyTexts preset_texts = read_texts(preset_files, errors);
  LoadResult result = parse_policy_texts(tenant_texts, preset_texts);
  if (!errors.empty()) {
    // Nothing loads when a file could not even be read.
    errors.insert(errors.end(), result.errors.begin(), result.errors.end());
    result.errors = std::move(errors);
    result.policy.reset();
    result.presets.clear();
  }
  return result;
}

LoadResult load_policy_dir(const fs::path& dir) {
  LoadResult result;
  std::error_code ec;
  auto files = yaml_files_in(dir, ec);
  if (ec) {
    result.errors.push_back({{dir.string(), 0, 0}, fmt::format("cannot read the policy dir: {}", ec.message())});
    return result;
  }
  auto preset_files = preset_files_of(dir, result.errors);
  PolicyTexts tenant_texts = read_texts(files, result.errors);
  PolicyTexts preset_texts = read_texts(preset_files, result.errors);
  if (!result.errors.empty()) return result;
  return parse_policy_texts(tenant_texts, preset_texts);
}

}  // namespace agentd::policy
