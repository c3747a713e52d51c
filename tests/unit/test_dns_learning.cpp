// DnsLearning on the kernel's maps kept in memory (memory_maps.hpp): what a
// sandbox's DNS teaches the kernel, with the ports of the rule that allowed
// the name; what it refuses, recorded; what a reload or a retired sandbox
// takes back. No root, no proxy, no upstream: answers are built by ldns.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "agentd/daemon/dns_learning.hpp"
#include "agentd/daemon/policy_applier.hpp"
#include "agentd/policy/loader.hpp"
#include "memory_maps.hpp"

#include "dns_wire.hpp"  // last: it brings ldns's headers

using namespace agentd;
using agentd::testing::MemoryMaps;
using agentd::testing::wire;
using nlohmann::json;

namespace {

std::shared_ptr<const policy::PolicySet> policy_of(const std::string& allow) {
  auto loaded = policy::parse_policy_texts(
      {{"acme.yaml", "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n" + allow}});
  REQUIRE(loaded.ok());
  return std::make_shared<const policy::PolicySet>(std::move(*loaded.policy));
}

constexpr const char* kApi = "      - host: api.example.test\n        ports: [443]\n";
constexpr uint32_t kSlot = 1;

// One sandbox, its policy applied, DNS learning over the same maps.
struct Learning {
  MemoryMaps maps;
  daemon::PolicyApplier applier{maps};
  daemon::SandboxRegistry registry{16};
  std::vector<events::Denial> denials;
  std::unique_ptr<daemon::DnsLearning> learning;

  explicit Learning(const std::string& allow) {
    daemon::Sandbox s;
    s.agent = *policy::parse_agent_name("acme/eng/coder");
    s.slot = kSlot;
    s.cgroup_id = 101;
    s.generation = 1;
    registry.put(s);
    REQUIRE(applier.apply(policy_of(allow), registry));
    daemon::DnsSettings settings;
    settings.upstream = "198.51.100.53:53";
    learning =
        std::make_unique<daemon::DnsLearning>(settings, dns::ProtectedRanges::defaults(), maps, applier, registry,
                                              [this](events::Denial d) { denials.push_back(std::move(d)); });
  }

  // The proxy's two steps for one A query: judged, then (if forwarded) its
  // answer learned. Returns what the sandbox would get back.
  dns::Bytes ask(const std::string& name, const std::vector<std::string>& answer) {
    const auto query_bytes = wire(9, name, LDNS_RR_TYPE_A, false);
    auto query = dns::parse_query(query_bytes.data(), query_bytes.size());
    REQUIRE(query);
    if (auto refused = learning->judge(kSlot, *query, "udp")) return *refused;
    const auto answer_bytes = wire(9, name, LDNS_RR_TYPE_A, true, answer);
    return learning->learn(kSlot, *query, answer_bytes.data(), answer_bytes.size());
  }
};

}  // namespace

TEST_CASE(
    "an allowed name's addresses are learned with the rule's ports, a refused name teaches nothing and is recorded") {
  Learning l(kApi);
  l.ask("api.example.test.", {"api.example.test. 300 IN A 198.51.100.10"});
  REQUIRE(l.maps.learned_entries.size() == 1);
  const auto& [key, value] = *l.maps.learned_entries.begin();
  CHECK(std::get<0>(key) == kSlot);
  CHECK(std::get<1>(key) == AGENTD_FAMILY_IPV4);
  CHECK(std::get<2>(key)[0] == 198);
  CHECK(std::get<2>(key)[3] == 10);
  CHECK(value.rules.ranges[0].lo == 443);
  CHECK(value.rules.ranges[0].hi == 443);
  REQUIRE(l.learning->name_of(kSlot, AGENTD_FAMILY_IPV4, std::get<2>(key).data()));
  CHECK(l.learning->name_of(kSlot, AGENTD_FAMILY_IPV4, std::get<2>(key).data())->name == "api.example.test");

  l.ask("exfil.example.test.", {"exfil.example.test. 300 IN A 198.51.100.66"});
  CHECK(l.maps.learned_entries.size() == 1);
  REQUIRE_FALSE(l.denials.empty());
  CHECK(l.denials.back().name.value_or("").find("exfil.example.test") != std::string::npos);
}

TEST_CASE("an answer pointing into a protected range is not learned") {
  Learning l(kApi);
  l.ask("api.example.test.", {"api.example.test. 300 IN A 169.254.169.254"});
  CHECK(l.maps.learned_entries.empty());
  REQUIRE_FALSE(l.denials.empty());
}

TEST_CASE("a reload that drops the name takes its addresses out of the kernel, and a retired slot forgets its own") {
  Learning l(kApi);
  l.ask("api.example.test.", {"api.example.test. 300 IN A 198.51.100.10"});
  REQUIRE(l.maps.learned_entries.size() == 1);
  l.learning->forget_slot(kSlot);
  CHECK(l.maps.learned_entries.empty());

  l.ask("api.example.test.", {"api.example.test. 300 IN A 198.51.100.10"});
  REQUIRE(l.maps.learned_entries.size() == 1);
  REQUIRE(l.applier.apply(policy_of("      - host: other.example.test\n"), l.registry));
  l.learning->revalidate();
  CHECK(l.maps.learned_entries.empty());
}
