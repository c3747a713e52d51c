// An operator's answer given through etcd (`agentctl watch --fleet`), at
// <prefix>/answers/<host>/<id>: the control API's approve or deny request
// (api/requests.hpp) and who gave it, as their agentctl said. The host
// takes it as it would from its control socket and deletes the key. Read
// strictly: a value is input from whoever may write to etcd. Pure.
#pragma once

#include <string>
#include <string_view>

#include "agentd/api/requests.hpp"
#include "agentd/common/result.hpp"
#include "agentd/fleet/key_layout.hpp"

namespace agentd::fleet {

inline constexpr size_t kMaxAnswerRecordBytes = 4096;

struct FleetAnswer {
  api::ApprovalsAnswerRequest request;
  std::string by;  // "alice (uid 1000) on ops-1"
};

std::string answer_record_value(const FleetAnswer& answer);

// The answer under `key` (one of layout.answers_prefix(host)); its id must
// be the key's.
Result<FleetAnswer> parse_answer_record(const KeyLayout& layout, std::string_view host, std::string_view key,
                                        std::string_view value);

}  // namespace agentd::fleet
