// Presets: named lists of destinations (`- preset: pypi` in a policy),
// one YAML file each under <policy-dir>/presets/:
//
//   apiVersion: agentd/v1
//   preset: pypi
//   description: Python Package Index (pip install)
//   destinations:
//     - host: pypi.org
//       ports: [443]
//       protocol: tcp
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::policy {

struct Preset {
  std::string name;
  std::string description;
  SourcePos pos;  // of the name, where a second definition points
  // Destinations as written in the preset file (pos and path there, e.g.
  // "destinations[1]"); kind and tenant are set when a policy uses them.
  std::vector<Endpoint> destinations;
};

class PresetCatalog {
 public:
  const Preset* find(const std::string& name) const;
  // A preset whose file did not load: its uses are not reported again.
  bool is_broken(const std::string& name) const { return broken_.contains(name); }
  std::vector<std::string> names() const;

  // Every preset file at once, every problem collected: a name defined
  // twice is an error at the second definition naming the first.
  static PresetCatalog read(const std::vector<std::pair<std::string, std::string>>& files,
                            std::vector<Diagnostic>& errors, std::vector<Diagnostic>& warnings);

 private:
  std::map<std::string, Preset> presets_;
  std::set<std::string> broken_;
};

// The endpoints a `preset:` entry stands for: each preset destination, in
// the place of the entry (`use` gives kind, pos, path and tenant), with
// Endpoint::preset naming the preset and the destination's own position.
// Ports and protocol on the entry narrow the preset: each destination
// keeps only the ports and protocols both name, and a destination with
// none left is dropped. Empty when nothing is left.
std::vector<Endpoint> expand_preset(const Preset& preset, const Endpoint& use);

}  // namespace agentd::policy
