// agentd_judge (bpf/verdict.h), the decision the hooks make over one
// flattened rule value, run from userspace: the same inline function.
#include <catch2/catch.hpp>

#include "verdict.h"

namespace {

agentd_rule_value value_of(std::initializer_list<agentd_port_range> ranges) {
  agentd_rule_value value{};
  for (const auto& r : ranges) value.ranges[value.count++] = r;
  return value;
}

}  // namespace

TEST_CASE("judge: no matching range is no verdict (the caller's default deny)") {
  auto value = value_of({{80, 80, AGENTD_PROTO_TCP, AGENTD_ACTION_ALLOW, 0}});
  CHECK(agentd_judge(&value, 81, AGENTD_PROTO_TCP).action == 0);
  CHECK(agentd_judge(&value, 80, AGENTD_PROTO_UDP).action == 0);
  CHECK(agentd_judge(&value, 80, AGENTD_PROTO_UDP).index == AGENTD_RANGE_NONE);
  CHECK(agentd_judge(&value, 80, AGENTD_PROTO_TCP).action == AGENTD_ACTION_ALLOW);
}

TEST_CASE("judge: deny beats allow, inference beats deny, whatever the order") {
  auto value = value_of({{0, 65535, AGENTD_PROTO_ANY, AGENTD_ACTION_ALLOW, 0},
                         {443, 443, AGENTD_PROTO_TCP, AGENTD_ACTION_DENY, 0},
                         {443, 443, AGENTD_PROTO_TCP, AGENTD_ACTION_INFERENCE, 0},
                         {22, 22, AGENTD_PROTO_ANY, AGENTD_ACTION_DENY, 0}});
  CHECK(agentd_judge(&value, 22, AGENTD_PROTO_TCP).action == AGENTD_ACTION_DENY);
  CHECK(agentd_judge(&value, 22, AGENTD_PROTO_TCP).index == 3);
  CHECK(agentd_judge(&value, 443, AGENTD_PROTO_TCP).action == AGENTD_ACTION_INFERENCE);
  CHECK(agentd_judge(&value, 443, AGENTD_PROTO_UDP).action == AGENTD_ACTION_ALLOW);
  CHECK(agentd_judge(&value, 8080, AGENTD_PROTO_UDP).index == 0);
}

TEST_CASE("judge: a corrupt count never reads past the ranges") {
  auto value = value_of({{1, 1, AGENTD_PROTO_TCP, AGENTD_ACTION_ALLOW, 0}});
  value.count = 1000;
  CHECK(agentd_judge(&value, 1, AGENTD_PROTO_TCP).action == AGENTD_ACTION_ALLOW);
  CHECK(agentd_judge(&value, 2, AGENTD_PROTO_TCP).action == 0);
}
