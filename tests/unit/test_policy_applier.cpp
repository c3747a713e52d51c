// PolicyApplier on the kernel's maps kept in memory (memory_maps.hpp): the
// order of a reload's writes (a class before the sandboxes that switch to
// it, cleanup after), a one-rule change written in place, a failed write
// taken back whole, and a restart that rewrites nothing. No root.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "agentd/daemon/policy_applier.hpp"
#include "agentd/policy/loader.hpp"
#include "memory_maps.hpp"

using namespace agentd;
using agentd::testing::MemoryMaps;

namespace {

std::shared_ptr<const policy::PolicySet> policy_of(const std::string& rules) {
  auto loaded = policy::parse_policy_texts({{"acme.yaml", "apiVersion: agentd/v1\ntenant: acme\nrules:\n" + rules}});
  INFO((loaded.errors.empty() ? "" : loaded.errors.front().str()));
  REQUIRE(loaded.ok());
  return std::make_shared<const policy::PolicySet>(std::move(*loaded.policy));
}

constexpr const char* kBoth = R"(  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443]
      - cidr: 203.0.113.7/32
        ports: [80]
)";

// The same, plus one /32: a one-rule change.
constexpr const char* kBothPlusOne = R"(  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443]
      - cidr: 203.0.113.7/32
        ports: [80]
      - cidr: 192.0.2.9/32
        ports: [22]
)";

// eng keeps the old rules, ops gets one more: two classes.
constexpr const char* kSplit = R"(  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443]
      - cidr: 203.0.113.7/32
        ports: [80]
  - agents: "acme/ops/*"
    allow:
      - cidr: 192.0.2.0/28
        ports: [22]
)";

daemon::SandboxRegistry two_sandboxes() {
  daemon::SandboxRegistry registry(16);
  uint32_t slot = 1;
  for (const char* agent : {"acme/eng/coder", "acme/ops/runner"}) {
    daemon::Sandbox s;
    s.agent = *policy::parse_agent_name(agent);
    s.slot = slot;
    s.cgroup_id = 100 + slot;
    s.generation = 1;
    ++slot;
    registry.put(s);
  }
  return registry;
}

uint32_t class_of_slot(const MemoryMaps& maps, uint32_t slot) { return maps.states.at(slot).class_id; }

// The same entries with the same values (byte for byte: the ABI's structs
// have no operator==).
bool same_rules(const decltype(MemoryMaps::rules)& a, const decltype(MemoryMaps::rules)& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
           return x.first == y.first && std::memcmp(&x.second, &y.second, sizeof(x.second)) == 0;
         });
}

}  // namespace

TEST_CASE("two sandboxes with the same rules share one class, written once, and both switch to it") {
  MemoryMaps maps;
  daemon::PolicyApplier applier(maps);
  auto registry = two_sandboxes();
  auto report = applier.apply(policy_of(kBoth), registry);
  REQUIRE(report);
  CHECK(report->classes_written == 1);
  const uint32_t id = class_of_slot(maps, 1);
  CHECK(id != AGENTD_CLASS_EMPTY);
  CHECK(class_of_slot(maps, 2) == id);
  CHECK(maps.states.at(1).flags & AGENTD_SANDBOX_ACTIVE);
  CHECK(maps.entries_of(id) > 0);
  CHECK(maps.classes_in_rules()->size() == 1);
}

TEST_CASE("a one-rule change is written in place: one entry, the same class, nothing removed") {
  MemoryMaps maps;
  daemon::PolicyApplier applier(maps);
  auto registry = two_sandboxes();
  REQUIRE(applier.apply(policy_of(kBoth), registry));
  const uint32_t id = class_of_slot(maps, 1);
  const size_t before = maps.entries_of(id);
  maps.writes.clear();
  auto report = applier.apply(policy_of(kBothPlusOne), registry);
  REQUIRE(report);
  CHECK(report->classes_updated == 1);
  CHECK(report->classes_written == 0);
  CHECK(class_of_slot(maps, 1) == id);
  CHECK(maps.entries_of(id) == before + 1);
  CHECK(std::count(maps.writes.begin(), maps.writes.end(), "put_entry " + std::to_string(id)) == 1);
  CHECK(maps.first_write("delete_entry") == -1);
}

TEST_CASE(
    "a sandbox moving to a new class: the class is written before the sandbox switches, the old one removed after") {
  MemoryMaps maps;
  daemon::PolicyApplier applier(maps);
  auto registry = two_sandboxes();
  REQUIRE(applier.apply(policy_of(kBoth), registry));
  const uint32_t shared = class_of_slot(maps, 1);
  maps.writes.clear();
  REQUIRE(applier.apply(policy_of(kSplit), registry));
  const uint32_t eng = class_of_slot(maps, 1), ops = class_of_slot(maps, 2);
  CHECK(eng != ops);
  // One of them may keep the shared id (changed in place or untouched); the
  // other is new, written whole before its sandbox points at it.
  const uint32_t fresh = eng == shared ? ops : eng;
  const uint32_t fresh_slot = fresh == eng ? 1 : 2;
  const long written = maps.first_write("put_class " + std::to_string(fresh));
  const long switched = maps.first_write("set_state " + std::to_string(fresh_slot) + " class " + std::to_string(fresh));
  REQUIRE(written >= 0);
  REQUIRE(switched >= 0);
  CHECK(written < switched);
  CHECK(*maps.classes_in_rules() == std::set<uint32_t>{eng, ops});

  // Back to one class for both: the class left without a sandbox goes,
  // after both switched away from it.
  maps.writes.clear();
  REQUIRE(applier.apply(policy_of(kBoth), registry));
  const uint32_t both = class_of_slot(maps, 1);
  CHECK(class_of_slot(maps, 2) == both);
  const uint32_t gone = both == eng ? ops : eng;
  const long last_switch = std::max(maps.first_write("set_state 1"), maps.first_write("set_state 2"));
  const long cleaned = maps.first_write("delete_unused");
  REQUIRE(cleaned >= 0);
  CHECK(cleaned > last_switch);
  CHECK(maps.entries_of(gone) == 0);
  CHECK(*maps.classes_in_rules() == std::set<uint32_t>{both});
}

TEST_CASE("a reload writes the state of the sandboxes whose state the kernel holds otherwise, and no other") {
  MemoryMaps maps;
  daemon::PolicyApplier applier(maps);
  auto registry = two_sandboxes();
  REQUIRE(applier.apply(policy_of(kBoth), registry));
  const uint32_t id = class_of_slot(maps, 1);
  // The kernel's state of slot 2 is no longer what agentd wrote (read back
  // in one batch by the switch): the same policy again puts it right.
  maps.states[2].flags = 0;
  maps.writes.clear();
  auto report = applier.apply(policy_of(kBoth), registry);
  REQUIRE(report);
  CHECK(report->sandboxes_switched == 1);
  CHECK(maps.first_write("set_state 1") == -1);
  CHECK(maps.first_write("set_state 2 class " + std::to_string(id)) != -1);
  CHECK(maps.states.at(2).flags & AGENTD_SANDBOX_ACTIVE);
  // Nothing differs now: nothing is written.
  maps.writes.clear();
  REQUIRE(applier.apply(policy_of(kBoth), registry));
  CHECK(maps.first_write("set_state") == -1);
}

TEST_CASE("a failed write takes back what the reload wrote, and no sandbox switches") {
  MemoryMaps maps;
  daemon::PolicyApplier applier(maps);
  auto registry = two_sandboxes();
  REQUIRE(applier.apply(policy_of(kBoth), registry));
  const auto rules_before = maps.rules;
  const auto states_before = maps.states;
  maps.fail_write_in = 3;  // the trie fills up halfway through the new class
  auto report = applier.apply(policy_of(kSplit), registry);
  REQUIRE_FALSE(report);
  CHECK(maps.first_write("failed ") >= 0);
  CHECK(same_rules(maps.rules, rules_before));  // no orphaned entries
  CHECK(maps.states.at(1).class_id == states_before.at(1).class_id);
  CHECK(maps.states.at(2).class_id == states_before.at(2).class_id);
  // And the next reload goes through.
  REQUIRE(applier.apply(policy_of(kSplit), registry));
  CHECK(class_of_slot(maps, 1) != class_of_slot(maps, 2));
}

TEST_CASE("a restarted daemon finds its classes in the maps and rewrites nothing that did not change") {
  MemoryMaps maps;
  auto registry = two_sandboxes();
  {
    daemon::PolicyApplier first(maps);
    REQUIRE(first.apply(policy_of(kSplit), registry));
  }
  const auto rules_before = maps.rules;
  maps.writes.clear();
  daemon::PolicyApplier second(maps);
  REQUIRE(second.reserve_existing_ids());
  auto restored = two_sandboxes();
  for (auto& [slot, s] : restored.all()) s.class_id = maps.states.at(slot).class_id;
  auto report = second.apply(policy_of(kSplit), restored);
  REQUIRE(report);
  CHECK(same_rules(maps.rules, rules_before));
  CHECK(maps.first_write("put_entry") == -1);
  CHECK(maps.first_write("put_class") == -1);
}
