#include "agentd/policy/presets.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "agentd/policy/yaml_reader.hpp"

namespace agentd::policy {
namespace {

class PresetReader : public YamlReader {
 public:
  using YamlReader::YamlReader;

  // The preset, or nullopt with errors; `name` is set whenever the file
  // names its preset, even when other parts are wrong.
  std::optional<Preset> read(const std::string& text, std::optional<std::string>& name) {
    const size_t errors_before = error_count();
    std::unique_ptr<YamlTree> tree;
    const YamlNode root =
        read_root(text, tree, "preset", {"apiVersion", "preset", "description", "destinations"}, "preset");
    if (!root) return std::nullopt;
    Preset preset;
    if (!root["preset"]) {
      error(root, "missing preset (the preset's name, used as `- preset: NAME` in policy)");
    } else if ((name = read_name(root["preset"], "preset"))) {
      preset.name = *name;
      preset.pos = pos(root["preset"]);
    }
    if (root["description"]) {
      if (auto text = scalar(root["description"], "description")) preset.description = *text;
    }
    const YamlNode list = root["destinations"];
    if (!list) {
      error(root, "missing destinations (the list of hosts or CIDRs the preset allows)");
    } else if (!list.is_sequence() || list.size() == 0) {
      error(list, "destinations must be a non-empty list of destinations");
    } else {
      size_t index = 0;
      for (const auto& item : list.items())
        if (auto d = read_destination(item, fmt::format("destinations[{}]", index++), false))
          preset.destinations.push_back(std::move(*d));
    }
    if (error_count() != errors_before) return std::nullopt;
    return preset;
  }
};

// The ports both lists name; empty lists mean every port. nullopt when
// they share none.
std::optional<std::vector<PortRange>> intersect(const std::vector<PortRange>& a, const std::vector<PortRange>& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  std::vector<PortRange> both;
  for (const auto& x : a)
    for (const auto& y : b)
      if (std::max(x.lo, y.lo) <= std::min(x.hi, y.hi)) both.push_back({std::max(x.lo, y.lo), std::min(x.hi, y.hi)});
  if (both.empty()) return std::nullopt;
  return both;
}

}  // namespace

const Preset* PresetCatalog::find(const std::string& name) const {
  auto it = presets_.find(name);
  return it == presets_.end() ? nullptr : &it->second;
}

std::vector<std::string> PresetCatalog::names() const {
  std::vector<std::string> out;
  for (const auto& [name, preset] : presets_) out.push_back(name);
  return out;
}

PresetCatalog PresetCatalog::read(const std::vector<std::pair<std::string, std::string>>& files,
                                  std::vector<Diagnostic>& errors, std::vector<Diagnostic>& warnings) {
  PresetCatalog catalog;
  for (const auto& [file, text] : files) {
    std::optional<std::string> name;
    auto preset = PresetReader(file, errors, warnings).read(text, name);
    if (!preset) {
      if (name) catalog.broken_.insert(*name);
      continue;
    }
    if (const Preset* first = catalog.find(preset->name)) {
      errors.push_back({preset->pos, fmt::format("preset \"{}\" is already defined in {}: one definition per preset",
                                                 preset->name, first->pos.str())});
      continue;
    }
    catalog.presets_.emplace(preset->name, std::move(*preset));
  }
  return catalog;
}

std::vector<Endpoint> expand_preset(const Preset& preset, const Endpoint& use) {
  std::vector<Endpoint> out;
  for (const auto& d : preset.destinations) {
    auto ports = intersect(d.ports, use.ports);
    const uint8_t proto_mask = d.proto_mask & use.proto_mask;
    if (!ports || proto_mask == 0) continue;
    Endpoint e = d;
    e.kind = use.kind;
    e.tenant = use.tenant;
    e.ports = std::move(*ports);
    e.proto_mask = proto_mask;
    if (use.verify) e.verify = use.verify;  // the entry's `verify:` over the preset's
    e.preset = PresetOrigin{preset.name, d.pos};
    e.pos = use.pos;
    e.path = use.path;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace agentd::policy
