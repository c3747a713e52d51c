#include "grants_export.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace agentctl {
using nlohmann::json;
namespace {

// Double-quoted YAML is JSON's string syntax: whatever the grant holds,
// the document stays one well-formed value per field.
std::string quoted(const std::string& text) { return nlohmann::json(text).dump(); }

std::string selector(const nlohmann::json& grant) {
  const std::string scope = grant.value("scope", "");
  std::string subject = grant.value("subject", "");
  if (scope == "team") return subject + "/*";
  if (scope == "tenant") return subject + "/*/*";
  return subject;
}

std::string destination(const nlohmann::json& grant) {
  const std::string protocol = grant.value("protocol", "");
  if (protocol == "dns") {
    std::string rule = fmt::format("      - host: {}\n", quoted(grant.value("host", "")));
    // A name grant on some ports only: the same ports, each as policy writes it.
    const std::string ports = grant.value("ports", json()).is_string() ? grant["ports"].get<std::string>() : "";
    if (!ports.empty()) {
      std::string list;
      for (size_t start = 0; start <= ports.size();) {
        const size_t comma = std::min(ports.find(',', start), ports.size());
        const std::string item = ports.substr(start, comma - start);
        list += (list.empty() ? "" : ", ") + (item.find('-') == std::string::npos ? item : quoted(item));
        start = comma + 1;
      }
      rule += fmt::format("        ports: [{}]\n", list);
    }
    return rule;
  }
  const std::string dest = grant.value("dest", "");
  const bool v6 = dest.find(':') != std::string::npos;
  return fmt::format("      - cidr: {}\n        ports: [{}]\n        protocol: {}\n",
                     quoted(dest + (v6 ? "/128" : "/32")), grant.value("port", 0), quoted(protocol));
}

}  // namespace

agentd::Result<std::string> grants_as_policy(const nlohmann::json& grants, const std::string& tenant) {
  std::string rules;
  size_t count = 0;
  for (const auto& grant : grants) {
    if (!grant.is_object() || grant.value("tenant", "") != tenant) continue;
    ++count;
    const std::string until =
        grant.value("permanent", false) ? "for good" : "until " + grant.value("expires_at", std::string("?"));
    rules += fmt::format("  # grant {}: {} scope, {}, made by {}\n", grant.value("id", 0), grant.value("scope", ""),
                         until, grant.value("created_by", ""));
    rules += fmt::format("  - agents: {}\n", quoted(selector(grant)));
    rules += grant.value("direction", "") == "inbound" ? "    inbound:\n      allow:\n" : "    allow:\n";
    std::string dest = destination(grant);
    if (grant.value("direction", "") == "inbound") {
      // Under inbound.allow: two more spaces on every line.
      std::string indented;
      for (size_t start = 0; start < dest.size();) {
        const size_t end = dest.find('\n', start);
        indented += "  " + dest.substr(start, end - start + 1);
        start = end + 1;
      }
      dest = indented;
    }
    rules += dest;
  }
  if (count == 0) return agentd::make_error("tenant {} has no standing grants", tenant);
  return fmt::format(
      "# The standing grants of tenant {} as policy rules ({} of them), from agentctl grants export.\n"
      "# Merge the rules into {}'s policy file (one file per tenant), apply, then revoke the grants.\n"
      "apiVersion: agentd/v1\ntenant: {}\nrules:\n{}",
      tenant, count, tenant, quoted(tenant), rules);
}

}  // namespace agentctl
