// A denial as the audit trail's row (kind "denial"): the columns agentctl
// audit filters and shows, and the detail that says why and who.
#pragma once

#include "agentd/events/denial.hpp"
#include "agentd/store/store.hpp"

namespace agentd::store {

AuditEvent denial_row(const events::Denial& denial);

}  // namespace agentd::store
