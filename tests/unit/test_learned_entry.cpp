// The conversions between the daemon's (slot, family, address) keys and
// port ranges and the kernel's learned/grant entries (agentd_abi.h).
#include <catch2/catch.hpp>

#include <cstring>

#include "agentd/bpf/learned_entry.hpp"

using namespace agentd::bpf;

TEST_CASE("learned entry: a key goes to the kernel layout and back unchanged") {
  const LearnedKey v4{7, AGENTD_FAMILY_IPV4, {198, 51, 100, 10}};
  const agentd_learned_key k = make_learned_key(v4);
  CHECK(k.slot == 7);
  CHECK(k.family == AGENTD_FAMILY_IPV4);
  const uint8_t want[16] = {198, 51, 100, 10};  // the rest zero, as the hooks look it up
  CHECK(std::memcmp(k.addr, want, sizeof(want)) == 0);
  CHECK(learned_key_of(k) == v4);

  const LearnedKey v6{
      AGENTD_MAX_SANDBOXES - 1, AGENTD_FAMILY_IPV6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53}};
  CHECK(learned_key_of(make_learned_key(v6)) == v6);
}

TEST_CASE("learned entry: the value holds the expiry and the ranges in order") {
  const std::vector<agentd_port_range> ranges = {{443, 443, AGENTD_PROTO_TCP, AGENTD_ACTION_ALLOW, 0},
                                                 {25, 25, AGENTD_PROTO_ANY, AGENTD_ACTION_DENY, 0}};
  const agentd_learned_value v = make_learned_value(123456789, make_rule_value(ranges));
  CHECK(v.expires_ns == 123456789);
  REQUIRE(v.rules.count == 2);
  CHECK(v.rules.ranges[0].lo == 443);
  CHECK(v.rules.ranges[1].action == AGENTD_ACTION_DENY);
  CHECK(v.rules.ranges[2].hi == 0);  // unused slots stay zero

  const auto back = ranges_of(v.rules);
  REQUIRE(back.size() == 2);
  CHECK(back[0].lo == 443);
  CHECK(back[0].proto_mask == AGENTD_PROTO_TCP);
  CHECK(back[1].lo == 25);
  CHECK(back[1].proto_mask == AGENTD_PROTO_ANY);
}

TEST_CASE("learned entry: more ranges than the kernel takes are cut, a bad count is clamped") {
  std::vector<agentd_port_range> many;
  for (uint16_t p = 1; p <= AGENTD_MAX_PORT_RANGES + 3; ++p)
    many.push_back({p, p, AGENTD_PROTO_TCP, AGENTD_ACTION_ALLOW, 0});
  const agentd_rule_value value = make_rule_value(many);
  CHECK(value.count == AGENTD_MAX_PORT_RANGES);
  CHECK(value.ranges[AGENTD_MAX_PORT_RANGES - 1].lo == AGENTD_MAX_PORT_RANGES);

  agentd_rule_value damaged = value;
  damaged.count = 1000;  // as a corrupted or foreign entry read back could say
  CHECK(ranges_of(damaged).size() == AGENTD_MAX_PORT_RANGES);
  CHECK(ranges_of(agentd_rule_value{}).empty());
}
