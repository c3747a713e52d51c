#include "agentd/policy/approval_settings.hpp"

#include <fmt/format.h>

#include "agentd/common/duration.hpp"
#include "agentd/policy/yaml_reader.hpp"

namespace agentd::policy {
namespace {

// Base-from-member: the reader wants a warnings list, and this section has none.
struct NoWarnings {
  std::vector<Diagnostic> warnings;
};

class ApprovalsReader : NoWarnings, YamlReader {
 public:
  ApprovalsReader(std::string file, std::vector<Diagnostic>& errors) : YamlReader(std::move(file), errors, warnings) {}

  void read(const YamlNode& node, ApprovalSettings& settings) {
    check_map(node, "approvals", {"mode", "request_expiry", "grant_duration", "silence_after_deny"});
    if (!node.is_map()) return;
    if (const YamlNode mode = node["mode"]) {
      auto text = scalar(mode, "approvals.mode");
      if (text == std::optional<std::string>("prompt"))
        settings.prompt = true;
      else if (text == std::optional<std::string>("off"))
        settings.prompt = false;
      else if (text)
        error(mode, fmt::format("approvals.mode \"{}\" is not prompt or off", *text));
    }
    read_duration(node["request_expiry"], "approvals.request_expiry", settings.request_expiry);
    read_duration(node["grant_duration"], "approvals.grant_duration", settings.grant_duration);
    read_duration(node["silence_after_deny"], "approvals.silence_after_deny", settings.silence_after_deny);
  }

 private:
  void read_duration(const YamlNode& node, const std::string& what, std::chrono::seconds& out) {
    if (!node) return;
    auto text = scalar(node, what);
    if (!text) return;
    auto duration = parse_duration(*text);
    if (!duration) return error(node, fmt::format("{}: {}", what, duration.error().message));
    out = *duration;
  }
};

}  // namespace

void read_approval_settings(const YamlNode& node, const std::string& file, std::vector<Diagnostic>& errors,
                            ApprovalSettings& settings) {
  ApprovalsReader(file, errors).read(node, settings);
}

const ApprovalSettings& approval_settings_of(const TenantPolicy* tenant) {
  static const ApprovalSettings defaults;
  return tenant && tenant->approvals ? *tenant->approvals : defaults;
}

}  // namespace agentd::policy
