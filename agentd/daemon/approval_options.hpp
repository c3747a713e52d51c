// agentd's command-line settings for operators, approvals and the audit trail.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "agentd/approvals/folds.hpp"
#include "agentd/approvals/grant_budget.hpp"

namespace agentd::daemon {

struct ApprovalOptions {
  std::filesystem::path roles_file;  // empty: only root is served
  std::string socket_group;          // group that may connect to the control socket (0660)
  std::filesystem::path audit_log;   // OCSF JSON lines; "-": stdout; empty: none
  // OCSF events to the host's syslog under this facility (audit_syslog.hpp);
  // empty: none.
  std::string audit_syslog;
  std::filesystem::path audit_syslog_socket = "/dev/log";
  std::chrono::seconds audit_max_age{30 * 86400};
  uint64_t audit_max_bytes = 256ULL << 20;
  uint64_t audit_max_denials_per_second = 1000;  // denial rows the store takes a second (store/write_budget.hpp)
  approvals::RequestCaps request_caps;           // pending requests per sandbox and per tenant; past them, folds
  // Kernel grant entries (grants map and name grants) all grants of one
  // tenant may take; a grant past it is refused (approvals/grant_budget.hpp).
  size_t grants_per_tenant = approvals::GrantBudget::kDefaultPerTenant;
};

}  // namespace agentd::daemon
