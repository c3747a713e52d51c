// Audit records for SIEMs, shaped as OCSF 1.3 events: Network Activity
// (class 4001) for connection decisions, DNS Activity (class 4003) for
// name decisions. One JSON object a line; what OCSF has no field for goes
// to `unmapped`.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agentd/approvals/book.hpp"
#include "agentd/events/denial.hpp"

namespace agentd::approvals {

// A denial, the kernel's or the DNS proxy's (DenialHook::dns).
nlohmann::json ocsf_denial(const events::Denial& denial);
// An operator's answer to a request, or a request that expired unanswered.
nlohmann::json ocsf_decision(const Request& request, const std::optional<Grant>& grant);

}  // namespace agentd::approvals
