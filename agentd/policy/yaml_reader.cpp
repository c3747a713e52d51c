#include "agentd/policy/yaml_reader.hpp"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "agentd/policy/names.hpp"
#include "agentd/policy/ports.hpp"

namespace agentd::policy {

YamlNode YamlReader::read_root(const std::string& text, std::unique_ptr<YamlTree>& tree, const std::string& kind,
                               const std::set<std::string>& known, const std::string& name_key) {
  YamlError problem;
  std::tie(tree, problem) = YamlTree::parse(text);
  if (!tree) {
    error_at({file_, problem.line, problem.column}, "invalid YAML: " + problem.message);
    return {};
  }
  const YamlNode root = tree->root();
  if (!root || root.is_null()) {
    error_at({file_, 1, 1}, fmt::format("the file is empty: a {} file needs apiVersion and {}", kind, name_key));
    return {};
  }
  if (!check_map(root, "the " + kind, known) && !root.is_map()) return {};
  if (!root["apiVersion"]) {
    error(root, fmt::format("missing apiVersion (this version reads \"{}\")", kApiVersion));
  } else if (auto version = scalar(root["apiVersion"], "apiVersion"); version && *version != kApiVersion) {
    error(root["apiVersion"],
          fmt::format("apiVersion \"{}\" is not supported (this version reads \"{}\")", *version, kApiVersion));
  }
  return root;
}

bool YamlReader::check_map(const YamlNode& node, const std::string& what, const std::set<std::string>& known) {
  if (!node.is_map()) {
    error(node, fmt::format("{} must be a mapping", what));
    return false;
  }
  bool ok = true;
  // A handful of keys: a linear scan beats a set's allocations (this runs
  // once per destination, 100,000 times for a large policy).
  const auto pairs = node.pairs();
  for (size_t i = 0; i < pairs.size(); ++i) {
    const YamlNode& key_node = pairs[i].first;
    const std::string key(key_node.scalar());
    const bool repeated = std::any_of(pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(i),
                                      [&](const auto& earlier) { return earlier.first.scalar() == key; });
    if (repeated) {
      error(key_node, fmt::format("{}: key \"{}\" appears twice", what, key));
      ok = false;
    } else if (!known.contains(key)) {
      std::string names;
      for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
      error(key_node, fmt::format("{}: unknown key \"{}\" (expected one of: {})", what, key, names));
      ok = false;
    }
  }
  return ok;
}

std::optional<std::string> YamlReader::scalar(const YamlNode& node, const std::string& what) {
  if (!node.is_scalar()) {
    error(node, fmt::format("{} must be a single value", what));
    return std::nullopt;
  }
  return std::string(node.scalar());
}

std::optional<std::string> YamlReader::read_name(const YamlNode& node, const std::string& what) {
  auto name = scalar(node, what);
  if (!name) return std::nullopt;
  if (!is_valid_name(*name)) {
    error(node, fmt::format("{} \"{}\" is not a valid name ([a-z0-9][a-z0-9_.-]*, at most 63)", what, *name));
    return std::nullopt;
  }
  return name;
}

std::optional<std::vector<PortRange>> YamlReader::read_ports(const YamlNode& node) {
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
    auto range = parse_port_range(item.scalar());
    if (!range) {
      error(item, range.error().message);
      ok = false;
    } else {
      ports.push_back(*range);
    }
  }
  if (!ok) return std::nullopt;
  return ports;
}

bool YamlReader::read_host(const YamlNode& node, Endpoint& endpoint) {
  auto text = scalar(node, "host");
  if (!text) return false;
  auto host = parse_host_pattern(*text);
  if (!host) {
    error(node, host.error().message);
    return false;
  }
  endpoint.host = std::move(*host);
  if (endpoint.host[0] == '*' && endpoint.host.find('.', 2) == std::string::npos)
    warn(node, fmt::format("host \"{}\" matches every name under the top-level domain \"{}\"", endpoint.host,
                           endpoint.host.substr(2)));
  return true;
}

std::optional<Endpoint> YamlReader::read_destination(const YamlNode& node, std::string path, bool presets) {
  // Unknown keys are reported, and the known ones are still checked, so
  // one run shows every problem.
  static const std::set<std::string> kKeys{"cidr", "host", "ports", "protocol", "verify"};
  static const std::set<std::string> kKeysWithPreset{"cidr", "host", "ports", "protocol", "verify", "preset"};
  const bool keys_ok = check_map(node, path, presets ? kKeysWithPreset : kKeys);
  if (!node.is_map()) return std::nullopt;
  Endpoint endpoint;
  endpoint.pos = pos(node);
  endpoint.path = std::move(path);
  bool ok = keys_ok;

  // Exactly one target; a second one is reported where it is written.
  std::vector<std::pair<std::string_view, YamlNode>> targets;
  for (const auto& [key, value] : node.pairs())
    if (key.scalar() == "cidr" || key.scalar() == "host" || (presets && key.scalar() == "preset"))
      targets.emplace_back(key.scalar(), key);
  const std::string_view choices = presets ? "\"cidr\", \"host\" or \"preset\"" : "\"cidr\" or \"host\"";
  if (targets.empty()) {
    // A preset inside a preset has had its "unknown key" already.
    if (presets || !node["preset"]) error(node, fmt::format("{}: a destination needs {}", endpoint.path, choices));
    ok = false;
  } else if (targets.size() > 1 && targets[0].first != targets[1].first) {
    error(targets[1].second, fmt::format("{}: a destination has one of {}, not both \"{}\" and \"{}\"", endpoint.path,
                                         choices, targets[0].first, targets[1].first));
    ok = false;
  } else if (targets[0].first == "cidr") {
    if (auto text = scalar(node["cidr"], "cidr")) {
      if (auto cidr = parse_cidr(*text)) {
        endpoint.cidr = *cidr;
      } else {
        error(node["cidr"], cidr.error().message);
        ok = false;
      }
    } else {
      ok = false;
    }
  } else if (targets[0].first == "host") {
    ok = read_host(node["host"], endpoint) && ok;
  } else if (auto name = read_name(node["preset"], "preset")) {
    endpoint.preset = PresetOrigin{*name, pos(node["preset"])};
  } else {
    ok = false;
  }

  if (node["ports"]) {
    auto ports = read_ports(node["ports"]);
    if (ports)
      endpoint.ports = std::move(*ports);
    else
      ok = false;
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
  if (node["verify"]) ok = read_verify(node["verify"], endpoint) && ok;
  if (!ok) return std::nullopt;
  return endpoint;
}

bool YamlReader::read_verify(const YamlNode& node, Endpoint& endpoint) {
  auto text = scalar(node, "verify");
  if (!text) return false;
  if (!endpoint.is_host() && !endpoint.preset) {
    error(node, fmt::format("{}: verify applies to host rules; a cidr rule opens addresses, not names", endpoint.path));
    return false;
  }
  if (auto mode = parse_verify(*text)) {
    endpoint.verify = *mode;
    return true;
  }
  error(node, fmt::format("{}: verify \"{}\" is not name, strict, lenient or off", endpoint.path, *text));
  return false;
}

}  // namespace agentd::policy
