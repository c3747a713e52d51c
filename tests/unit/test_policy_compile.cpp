// Compilation to flattened LPM entries, and the decisions they give: the
// same longest-prefix + agentd_judge the kernel runs.
#include <algorithm>
#include <cstring>
#include <random>
#include <tuple>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "agentd/policy/compile.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/loader.hpp"
#include "agentd/policy/ranges.hpp"
#include "policy_fixtures.hpp"

using namespace agentd::policy;

namespace {

Decision judge(const PolicySet& set, const std::string& who, const std::string& dest) {
  auto d = parse_destination(dest);
  REQUIRE(d.ok());
  auto decision = explain(set, agent(who), *d);
  REQUIRE(decision.ok());
  return *decision;
}

const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
inference:
  - cidr: 203.0.113.7/32
    ports: [443]
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [80, 443]
      - cidr: 198.51.100.66/32
        ports: [8080]
    deny:
      - cidr: 198.51.100.64/28
        ports: [443]
      - cidr: 203.0.113.0/24
  - agents: "acme/eng/coder-*"
    allow:
      - cidr: 2001:db8:1::/64
        protocol: udp
      - cidr: 0.0.0.0/0
        ports: [22]
        protocol: tcp
    deny:
      - cidr: 10.0.0.0/8
)";

}  // namespace

TEST_CASE("precedence: inference, then deny, then allow, then the default deny") {
  const PolicySet set = load(kPolicy);
  const std::string coder = "acme/eng/coder-1";
  struct Case {
    const char* dest;
    bool allowed;
    const char* because;
  };
  const Case cases[] = {
      {"198.51.100.10:80", true, "allowed by acme.yaml:9:9 rules[0].allow[0]"},
      {"198.51.100.10:81", false, "no rule allows it"},
      {"198.51.100.70:443", false, "denied by acme.yaml:14:9 rules[0].deny[0]"},  // deny /28 inside allow /24
      {"198.51.100.70:80", true, "rules[0].allow[0]"},                            // the /28 denies 443 only
      {"198.51.100.66:8080", true, "rules[0].allow[1]"},                          // /32 allow inside the /28
      {"198.51.100.66:443", false, "rules[0].deny[0]"},                           // the /28 deny still covers the /32
      {"203.0.113.7:443", true, "inference endpoint by acme.yaml:4:5 inference[0]"},
      {"203.0.113.7:80", false, "rules[0].deny[1]"},
      {"203.0.113.8:443", false, "rules[0].deny[1]"},
      {"192.0.2.1:22", true, "rules[1].allow[1]"},  // 0.0.0.0/0 tcp 22
      {"192.0.2.1:22/udp", false, "no rule allows it"},
      {"10.1.2.3:22", false, "rules[1].deny[0]"},  // deny /8 beats the wider allow
      {"[2001:db8:1::5]:53/udp", true, "rules[1].allow[0]"},
      {"[2001:db8:1::5]:53/tcp", false, "no rule allows it"},
      {"[2001:db8:2::5]:22", false, "no rule allows it"},   // 0.0.0.0/0 is IPv4 only
      {"[::ffff:10.1.2.3]:22", false, "rules[1].deny[0]"},  // mapped: judged as IPv4
      {"[::ffff:192.0.2.1]:22", true, "rules[1].allow[1]"},
      {"127.0.0.1:22", true, "rules[1].allow[1]"},  // 0.0.0.0/0 includes loopback when written
  };
  for (const auto& c : cases) {
    auto d = judge(set, coder, c.dest);
    INFO(c.dest << ": " << d.explanation);
    CHECK(d.allowed == c.allowed);
    CHECK(d.explanation.find(c.because) != std::string::npos);
  }
}

TEST_CASE("globs select agents, and others get only what matches them") {
  const PolicySet set = load(kPolicy);
  CHECK(judge(set, "acme/eng/coder-7", "192.0.2.1:22").allowed);
  CHECK_FALSE(judge(set, "acme/eng/reviewer-1", "192.0.2.1:22").allowed);
  CHECK_FALSE(judge(set, "acme/ops/coder-1", "192.0.2.1:22").allowed);
  CHECK(judge(set, "acme/ops/coder-1", "198.51.100.10:443").allowed);
  CHECK_FALSE(judge(set, "acme/eng/reviewer-1", "127.0.0.1:80").allowed);  // loopback: default deny
  auto other = judge(set, "globex/eng/coder-1", "198.51.100.10:80");
  CHECK_FALSE(other.allowed);
  CHECK(other.explanation.find("tenant has no policy") != std::string::npos);
}

TEST_CASE("agents with the same matched rules share a class key, others do not") {
  const PolicySet set = load(kPolicy);
  auto key = [&](const std::string& who) { return compile_for_agent(set, agent(who))->key; };
  CHECK(key("acme/eng/coder-1") == key("acme/eng/coder-2"));
  CHECK(key("acme/ops/bot") == key("acme/eng/reviewer"));
  CHECK(key("acme/eng/coder-1") != key("acme/eng/reviewer"));
  CHECK(key("globex/a/b").empty());
  CHECK(compile_for_agent(set, agent("globex/a/b"))->entries.empty());
}

TEST_CASE("the class key is known before compiling, and one key compiles to one class") {
  // agentd compiles a key once and gives every later agent of that key the
  // same class: that holds only if the key decides the whole compile.
  const PolicySet set = load(kPolicy);
  const char* agents[] = {"acme/eng/coder-1", "acme/eng/coder-2", "acme/eng/reviewer",
                          "acme/ops/bot",     "acme/ops/coder-1", "globex/a/b"};
  for (const char* a : agents) {
    INFO(a);
    CHECK(class_key_for(set, agent(a)) == compile_for_agent(set, agent(a))->key);
    for (const char* b : agents) {
      if (class_key_for(set, agent(a)) != class_key_for(set, agent(b))) continue;
      auto ca = compile_for_agent(set, agent(a));
      auto cb = compile_for_agent(set, agent(b));
      REQUIRE(ca->entries.size() == cb->entries.size());
      for (size_t i = 0; i < ca->entries.size(); ++i) {
        CHECK(ca->entries[i].addr == cb->entries[i].addr);
        CHECK(ca->entries[i].prefix == cb->entries[i].prefix);
        CHECK(std::memcmp(&ca->entries[i].value, &cb->entries[i].value, sizeof(agentd_rule_value)) == 0);
      }
      REQUIRE(ca->names.size() == cb->names.size());
      for (size_t i = 0; i < ca->names.size(); ++i) CHECK(ca->names[i].pattern == cb->names[i].pattern);
    }
  }
}

TEST_CASE("flattened entries carry every covering range, with their origins") {
  const PolicySet set = load(kPolicy);
  auto compiled = compile_for_agent(set, agent("acme/ops/bot"));
  REQUIRE(compiled.ok());
  // rules[0] only: inference /32, allow /24, allow /32, deny /28, deny /24(203.0.113).
  REQUIRE(compiled->entries.size() == 5);
  const CompiledEntry* slash32 = nullptr;
  for (const auto& e : compiled->entries)
    if (e.family == AGENTD_FAMILY_IPV4 && e.prefix == 32 && e.addr[3] == 66) slash32 = &e;
  REQUIRE(slash32 != nullptr);
  // Its own allow 8080, the /28's deny 443, the /24's allow 80 and 443.
  CHECK(slash32->value.count == 4);
  CHECK(slash32->origins.size() == slash32->value.count);
}

TEST_CASE("more port ranges than one entry holds: merged where they touch, else a clear error") {
  std::string many = "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n";
  for (int i = 0; i < 40; ++i) many += fmt::format("      - cidr: 198.51.100.0/24\n        ports: [{}]\n", 1000 + i);
  auto merged = compile_for_agent(load(many), agent("acme/a/b"));
  REQUIRE(merged.ok());
  REQUIRE(merged->entries.size() == 1);
  CHECK(merged->entries[0].value.count == 1);  // 1000..1039 in one range

  std::string apart = "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n";
  for (int i = 0; i < 40; ++i)
    apart += fmt::format("      - cidr: 198.51.100.0/24\n        ports: [{}]\n", 1000 + 2 * i);
  auto refused = compile_for_agent(load(apart), agent("acme/a/b"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("40 distinct port ranges for 198.51.100.0/24") != std::string::npos);
  CHECK(refused.error().message.find("acme.yaml:6:9") != std::string::npos);
}

TEST_CASE("100,000 endpoints compile into 100,000 entries that decide correctly") {
  std::string text = "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n";
  text.reserve(size_t{100000} * 48);
  for (int i = 0; i < 100000; ++i)
    text += fmt::format("      - cidr: 10.{}.{}.{}/32\n", i >> 16, (i >> 8) & 0xff, i & 0xff);
  text += "    deny:\n      - cidr: 10.0.0.0/16\n        ports: [25]\n";
  const PolicySet set = load(text);
  auto compiled = compile_for_agent(set, agent("acme/a/b"));
  REQUIRE(compiled.ok());
  CHECK(compiled->entries.size() == 100001);
  auto dest = [](const char* d) { return *parse_destination(d); };
  CHECK(decide(*compiled, dest("10.1.134.159:443")).allowed);  // 100,000th address is 10.1.134.159
  CHECK_FALSE(decide(*compiled, dest("10.1.134.160:443")).allowed);
  CHECK_FALSE(decide(*compiled, dest("10.0.1.2:25")).allowed);  // the /16 deny reaches every /32 under it
  CHECK(decide(*compiled, dest("10.0.1.2:26")).allowed);
}

TEST_CASE("each entry carries exactly the ranges of the endpoints covering it, shortest first") {
  // Nested random prefixes of every length, repeated ones, allows and
  // denies with ports, IPv6 and inbound: compiled with one sort and one
  // sweep, checked against the definition, endpoint by endpoint.
  std::mt19937 random(7);
  std::string text = "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n";
  const char* ports[] = {"", "\n        ports: [443]", "\n        ports: [80, \"8000-8100\"]", "\n        ports: [22]"};
  for (const char* kind : {"allow", "deny"}) {
    text += fmt::format("    {}:\n", kind);
    for (int i = 0; i < 600; ++i) {
      const unsigned length = 8 + random() % 25;
      uint32_t address = 0xc6000000u | (random() & 0x00ffffffu);  // within 198.0.0.0/8: deeply nested
      if (i % 3 == 0) address = static_cast<uint32_t>(random());
      address &= length == 32 ? 0xffffffffu : ~(0xffffffffu >> length);
      text += fmt::format("      - cidr: {}.{}.{}.{}/{}{}\n", address >> 24, (address >> 16) & 0xff,
                          (address >> 8) & 0xff, address & 0xff, length, ports[random() % 4]);
    }
    for (int i = 0; i < 40; ++i)
      text +=
          fmt::format("      - cidr: \"2001:db8:{:x}::/{}\"\n        ports: [443]\n", random() % 4, 48 + 16 * (i % 3));
  }
  text += "    inbound:\n      allow:\n        - cidr: 198.51.100.0/24\n          ports: [8080]\n";
  const PolicySet set = load(text);
  auto compiled = compile_for_agent(set, agent("acme/a/b"));
  REQUIRE(compiled.ok());

  std::vector<const Endpoint*> cidrs;
  for (uint32_t id = 0; id < set.endpoint_count(); ++id) cidrs.push_back(&set.endpoint(id));
  size_t prefixes = 0;
  for (const auto& entry : compiled->entries) {
    std::vector<std::pair<uint8_t, uint32_t>> covering;  // (length, id): shortest first, then policy order
    for (const Endpoint* e : cidrs)
      if (e->key_family() == entry.family && e->cidr.prefix <= entry.prefix &&
          masked_address(entry.addr, e->cidr.prefix) == e->cidr.addr)
        covering.emplace_back(e->cidr.prefix, e->id);
    std::stable_sort(covering.begin(), covering.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<OriginRange> expected;
    for (const auto& [length, id] : covering) append_ranges(set.endpoint(id), expected);
    expected = simplify_ranges(expected);
    REQUIRE(entry.value.count == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      CHECK(std::memcmp(&entry.value.ranges[i], &expected[i].range, sizeof(agentd_port_range)) == 0);
      CHECK(entry.origins[i] == expected[i].origin);
    }
    prefixes += covering.back().first == entry.prefix ? 1 : 0;
  }
  CHECK(prefixes == compiled->entries.size());  // one entry per distinct prefix, no other
  CHECK(std::is_sorted(compiled->entries.begin(), compiled->entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.family, a.addr, a.prefix) < std::tie(b.family, b.addr, b.prefix);
  }));
}

TEST_CASE("destinations parse with their protocol, and bad ones say why") {
  CHECK(parse_destination("198.51.100.7:443")->str() == "198.51.100.7:443/tcp");
  CHECK(parse_destination("[2001:db8::1]:53/udp")->str() == "[2001:db8::1]:53/udp");
  CHECK(parse_destination("[::ffff:198.51.100.7]:80")->str() == "198.51.100.7:80/tcp");
  CHECK(parse_destination("198.51.100.7:0").error().message.find("not a port") != std::string::npos);
  CHECK(parse_destination("198.51.100.7:53/icmp").error().message.find("not tcp or udp") != std::string::npos);
  CHECK(parse_destination("2001:db8::1:53").error().message.find("is not ADDR:PORT") != std::string::npos);
  CHECK(parse_destination("[2001:db8::/32]:80").error().message.find("not an IP address") != std::string::npos);
}
