// A denial as one line of terminal text, for the daemon's log and any
// prompt that shows a single denial: who, what, why, and the process.
#pragma once

#include <string>

#include "agentd/events/denial.hpp"

namespace agentd::events {

// "acme/eng/coder-1 -> 198.51.100.66:443/tcp (api.example.test): denied
// (deny_rule, connect4); rule acme.yaml:14:9 rules[0].deny[0]; by curl
// (pid 41, uid 1000)". What a sandbox chose (names, process names) is
// escaped: the line holds no control and no bidi character.
std::string denial_text(const Denial& denial);

}  // namespace agentd::events
