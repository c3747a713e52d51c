// agentctl top's arithmetic, apart from the terminal: two samples of the
// sandbox list make each sandbox's rates, busiest first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace agentctl {

struct TopRow {
  std::string agent, state;
  double allowed_per_s = 0, denied_per_s = 0, dns_per_s = 0, dns_refused_per_s = 0;
  double sent_bytes_per_s = 0, received_bytes_per_s = 0;  // all traffic classes
  uint64_t allowed = 0, denied = 0, learned = 0;
};

// Rates between `before` and `after` (sandbox.list answers, `seconds`
// apart), for the sandboxes in `after`. A sandbox new since `before`, or
// whose slot passed to another agent, counts from zero; counters that went
// down (a slot reused) give no negative rate. Busiest first: denials, then
// connects, then bytes, then DNS, then by name.
std::vector<TopRow> top_rows(const nlohmann::json& before, const nlohmann::json& after, double seconds);

nlohmann::json to_json(const TopRow& row);

}  // namespace agentctl
