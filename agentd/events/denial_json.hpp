// A denial as the JSON line the denial log writes and e2e tests and SIEMs
// read ("type": "deny"). The one place that knows its keys: which are
// present depends on the hook, as it always has (a refused socket has no
// "dest", a DNS refusal no "pid").
#pragma once

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"
#include "agentd/events/denial.hpp"

namespace agentd::events {

nlohmann::json denial_json(const Denial& denial);
// A record read back: every key its hook needs, of the right type, and a
// hook and reason agentd knows; else an error naming the key and why.
Result<Denial> parse_denial(const nlohmann::json& record);

// For nlohmann's conversions (json j = denial; j.get<Denial>()): as
// above; from_json throws std::invalid_argument with parse_denial's
// message.
void to_json(nlohmann::json& record, const Denial& denial);
void from_json(const nlohmann::json& record, Denial& denial);

}  // namespace agentd::events
