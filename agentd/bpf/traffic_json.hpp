// A sandbox's traffic counts (agentd_traffic, counted by the skb programs)
// as status, sandbox list and the metrics show them. Pure.
#pragma once

#include <nlohmann/json.hpp>

#include "agentd_abi.h"

namespace agentd::bpf {

// "inference", "rule", "name", "other" (enum agentd_traffic_class).
const char* traffic_class_name(unsigned traffic_class);

// {"sent": {"bytes", "packets", "by_class": {"inference", "rule", "name",
// "other"}}, "received": {...}}: bytes by what allowed the socket.
nlohmann::json traffic_to_json(const agentd_traffic& traffic);

}  // namespace agentd::bpf
