#include "agentd/events/denial.hpp"

#include "agentd/events/denial_record.hpp"

namespace agentd::events {

std::string protocol_text(const Denial& denial) {
  if (denial.destination) return denial.destination->protocol;
  if (denial.query) return denial.query->transport;
  if (denial.socket && denial.hook == DenialHook::setsockopt) return protocol_name(denial.socket->protocol);
  return "";
}

}  // namespace agentd::events
