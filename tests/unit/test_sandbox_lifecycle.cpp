// A sandbox's life cycle (sandbox_lifecycle.hpp) on the kernel's maps kept
// in memory (memory_maps.hpp) and a fake of the daemon's side: the order of
// the writes that bring a sandbox in (made, adopted, restored), a failure at
// each step taken back whole, retirement in the reverse order, and a restart
// that keeps a mapped sandbox's slot and generation. No root.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "agentd/daemon/policy_applier.hpp"
#include "agentd/daemon/sandbox_lifecycle.hpp"
#include "memory_maps.hpp"
#include "policy_fixtures.hpp"

using namespace agentd;
using agentd::daemon::Sandbox;
using agentd::testing::MemoryMaps;

namespace {

const std::filesystem::path kRoot = "/sys/fs/cgroup/agentd";

// The daemon's side, logged into the maps' write log so that the order
// across both is one list; each call can be made to fail once.
class FakeSide final : public daemon::SandboxSide {
 public:
  explicit FakeSide(MemoryMaps& maps) : maps_(maps) {}

  std::set<uint64_t> links;       // cgroups with links of their own
  std::set<uint32_t> dns_served;  // slots with proxy sockets
  std::vector<store::AdoptedRow> rows;
  bool fail_links = false, fail_store = false;

  Status attach_links(const Sandbox& s) override {
    maps_.writes.push_back(fmt::format("attach_links {}", s.cgroup_id));
    if (std::exchange(fail_links, false)) return make_error("attaching links to {}", s.cgroup_id);
    links.insert(s.cgroup_id);
    return ok_status();
  }
  Status detach_links(const Sandbox& s) override {
    maps_.writes.push_back(fmt::format("detach_links {}", s.cgroup_id));
    links.erase(s.cgroup_id);
    return ok_status();
  }
  uint16_t open_dns(uint32_t slot) override {
    maps_.writes.push_back(fmt::format("open_dns {}", slot));
    dns_served.insert(slot);
    return static_cast<uint16_t>(5300 + slot);
  }
  void close_dns(uint32_t slot) override {
    maps_.writes.push_back(fmt::format("close_dns {}", slot));
    dns_served.erase(slot);
  }
  Status store_adopted(const std::vector<store::AdoptedRow>& list) override {
    maps_.writes.push_back(fmt::format("store_adopted {}", list.size()));
    if (std::exchange(fail_store, false)) return make_error("the store is read-only");
    rows = list;
    return ok_status();
  }
  void announce(const Sandbox& s, const std::string& event, const nlohmann::json&) override {
    maps_.writes.push_back(fmt::format("announce {} {}", event, s.agent.str()));
  }
  void sync_grants_of(const Sandbox&) override { maps_.writes.emplace_back("sync_grants"); }

 private:
  MemoryMaps& maps_;
};

agentd_sandbox_state state(uint32_t class_id, uint32_t flags, uint16_t generation) {
  return {class_id, flags | (uint32_t{generation} << AGENTD_SANDBOX_GEN_SHIFT)};
}

bool same_states(const MemoryMaps& a, const MemoryMaps& b) {
  return a.states.size() == b.states.size() &&
         std::equal(a.states.begin(), a.states.end(), b.states.begin(), [](const auto& x, const auto& y) {
           return x.first == y.first && std::memcmp(&x.second, &y.second, sizeof(x.second)) == 0;
         });
}

// The kernel's and the daemon's side of every sandbox, to compare before and after.
struct Snapshot {
  MemoryMaps maps;
  std::set<uint64_t> links;
  std::set<uint32_t> dns_served;
  std::vector<store::AdoptedRow> rows;
  std::set<uint32_t> slots;
};

struct World {
  MemoryMaps maps;
  daemon::SandboxRegistry registry{16};
  FakeSide side{maps};
  daemon::SandboxLifecycle lifecycle{maps, registry, side, kRoot};

  World() {
    // An array map: every slot is there, zero until written.
    for (uint32_t slot = 0; slot <= 16; ++slot) maps.states[slot] = {};
  }

  Snapshot snapshot() const {
    Snapshot s;
    s.maps.cgroups = maps.cgroups;
    s.maps.states = maps.states;
    s.maps.dns6_ports = maps.dns6_ports;
    s.links = side.links;
    s.dns_served = side.dns_served;
    s.rows = side.rows;
    for (const auto& [slot, sandbox] : registry.all()) s.slots.insert(slot);
    return s;
  }

  // Everything as in `before`.
  void check_as(const Snapshot& before) const {
    CHECK(maps.cgroups == before.maps.cgroups);
    CHECK(same_states(maps, before.maps));
    CHECK(maps.dns6_ports == before.maps.dns6_ports);
    CHECK(side.links == before.links);
    CHECK(side.dns_served == before.dns_served);
    CHECK(side.rows == before.rows);
    std::set<uint32_t> slots;
    for (const auto& [slot, sandbox] : registry.all()) slots.insert(slot);
    CHECK(slots == before.slots);
  }
};

Sandbox run_sandbox(const std::string& agent, uint64_t cgroup_id, uint32_t slot, uint32_t class_id) {
  Sandbox s;
  s.agent = policy::agent(agent);
  s.cgroup = kRoot / agent;
  s.cgroup_id = cgroup_id;
  s.slot = slot;
  s.class_id = class_id;
  return s;
}

Sandbox adopted_sandbox(const std::string& agent, const std::filesystem::path& cgroup, uint64_t cgroup_id,
                        uint32_t slot, uint32_t class_id) {
  Sandbox s = run_sandbox(agent, cgroup_id, slot, class_id);
  s.cgroup = cgroup;
  s.adopted = true;
  return s;
}

// The writes from index `from` on.
std::vector<std::string> writes_since(const MemoryMaps& maps, size_t from) {
  return {maps.writes.begin() + static_cast<long>(from), maps.writes.end()};
}

}  // namespace

TEST_CASE("a new sandbox: its class and state are in the maps before the cgroup entry that applies them") {
  World w;
  daemon::PolicyApplier applier(w.maps);
  REQUIRE(applier.apply(
      std::make_shared<const policy::PolicySet>(policy::load("apiVersion: agentd/v1\ntenant: acme\nrules:\n"
                                                             "  - agents: \"acme/*/*\"\n    allow:\n"
                                                             "      - cidr: 198.51.100.0/24\n        ports: [443]\n")),
      w.registry));
  w.maps.writes.clear();
  auto class_id = applier.class_for(policy::agent("acme/eng/coder"));
  REQUIRE(class_id);
  const size_t from = w.maps.writes.size();
  CHECK(from > 0);                                     // the class's entries
  w.maps.states[1] = state(AGENTD_CLASS_EMPTY, 0, 3);  // a previous sandbox's slot

  auto made = w.lifecycle.create(run_sandbox("acme/eng/coder", 101, 1, *class_id));
  REQUIRE(made);
  CHECK(made->generation == 1);  // the registry had not seen the slot: one more than its own 0
  const std::string c = std::to_string(*class_id);
  CHECK(writes_since(w.maps, from) == std::vector<std::string>{
                                          "set_state 1 class 0",  // the new generation, inactive
                                          "reset_counters 1",
                                          "open_dns 1",
                                          "set_dns6_port 1 5301",
                                          "set_state 1 class " + c,
                                          "set_cgroup 101 slot 1",
                                          "announce created acme/eng/coder",
                                          "sync_grants",
                                      });
  CHECK(w.maps.first_write("put_entry") < w.maps.first_write("set_cgroup"));
  CHECK(w.maps.states.at(1).flags == (AGENTD_SANDBOX_ACTIVE | (1u << AGENTD_SANDBOX_GEN_SHIFT)));
  CHECK(w.maps.cgroups.at(101) == 1);
  CHECK(w.registry.find_slot(1)->generation == 1);
  CHECK(w.side.links.empty());
}

TEST_CASE("an adopted cgroup outside the root: its links after the cgroup entry, then its store row") {
  World w;
  w.registry.set_generation(2, 7);
  w.maps.states[2] = state(AGENTD_CLASS_EMPTY, 0, 7);
  auto made =
      w.lifecycle.create(adopted_sandbox("acme/ops/runner", "/sys/fs/cgroup/system.slice/foo.service", 202, 2, 4));
  REQUIRE(made);
  CHECK(made->generation == 8);
  CHECK(w.maps.writes == std::vector<std::string>{
                             "set_state 2 class 0",
                             "reset_counters 2",
                             "open_dns 2",
                             "set_dns6_port 2 5302",
                             "set_state 2 class 4",
                             "set_cgroup 202 slot 2",
                             "attach_links 202",
                             "store_adopted 1",
                             "announce adopted acme/ops/runner",
                             "sync_grants",
                         });
  CHECK(w.side.rows == std::vector<store::AdoptedRow>{{"acme/ops/runner", "/sys/fs/cgroup/system.slice/foo.service"}});

  // Under the root, the root's links serve it: none of its own.
  w.maps.writes.clear();
  REQUIRE(w.lifecycle.create(adopted_sandbox("acme/ops/pod", kRoot / "pods" / "x", 203, 3, 4)));
  CHECK(w.maps.first_write("attach_links") == -1);
  CHECK(w.side.rows.size() == 2);
}

TEST_CASE("a failed write at any step of a creation leaves the maps as they were") {
  for (bool adopted : {false, true}) {
    for (int fail_at = 1;; ++fail_at) {
      World w;
      // Slot 1 held by a sandbox before; slot 2 by a live one.
      w.registry.set_generation(1, 3);
      w.maps.states[1] = state(AGENTD_CLASS_EMPTY, 0, 3);
      REQUIRE(w.lifecycle.create(adopted_sandbox("acme/eng/live", "/sys/fs/cgroup/live", 102, 2, 5)));
      const Snapshot before = w.snapshot();
      w.maps.fail_write_in = fail_at;
      auto s = adopted ? adopted_sandbox("acme/eng/coder", "/sys/fs/cgroup/elsewhere", 101, 1, 4)
                       : run_sandbox("acme/eng/coder", 101, 1, 4);
      auto made = w.lifecycle.create(s);
      if (made) {
        CHECK(w.maps.fail_write_in > 0);  // every write passed: each one was failed in a round before
        CHECK(fail_at > 4);
        break;
      }
      INFO("adopted " << adopted << ", failing write " << fail_at << ": " << made.error().describe());
      w.check_as(before);
      CHECK(w.registry.generation(1) == 3);  // its next sandbox gets the same generation: no socket saw it
      REQUIRE(fail_at < 20);
    }
  }
}

TEST_CASE("a failure after the cgroup entry takes the sandbox back but keeps the slot's new generation") {
  for (bool store_fails : {false, true}) {
    World w;
    w.registry.set_generation(1, 3);
    w.maps.states[1] = state(AGENTD_CLASS_EMPTY, 0, 3);
    const Snapshot before = w.snapshot();
    (store_fails ? w.side.fail_store : w.side.fail_links) = true;
    auto made = w.lifecycle.create(adopted_sandbox("acme/eng/coder", "/sys/fs/cgroup/elsewhere", 101, 1, 4));
    INFO("the store fails: " << store_fails);
    REQUIRE_FALSE(made);
    CHECK(w.maps.cgroups == before.maps.cgroups);
    CHECK(w.maps.dns6_ports == before.maps.dns6_ports);
    CHECK(w.side.links.empty());
    CHECK(w.side.dns_served.empty());
    CHECK(w.side.rows.empty());
    CHECK(w.registry.all().empty());
    // A process of the cgroup may have made a socket while it pointed at
    // the slot: the slot stays retired at the new generation.
    const auto& st = w.maps.states.at(1);
    CHECK(st.class_id == AGENTD_CLASS_EMPTY);
    CHECK(st.flags == (4u << AGENTD_SANDBOX_GEN_SHIFT));
    CHECK(w.registry.generation(1) == 4);
    auto again = w.lifecycle.create(run_sandbox("acme/eng/coder", 101, 1, 4));
    REQUIRE(again);
    CHECK(again->generation == 5);
  }
}

TEST_CASE("retirement takes out what creation wrote, in the reverse order") {
  World w;
  auto made = w.lifecycle.create(adopted_sandbox("acme/ops/runner", "/sys/fs/cgroup/elsewhere", 202, 2, 4));
  REQUIRE(made);
  const std::vector<std::string> created = w.maps.writes;
  w.maps.writes.clear();
  REQUIRE(w.lifecycle.retire(2, "removed"));
  CHECK(w.maps.writes == std::vector<std::string>{
                             "delete_cgroup 202",
                             "set_state 2 class 0",
                             "detach_links 202",
                             "close_dns 2",
                             "set_dns6_port 2 0",
                             "sync_grants",
                             "store_adopted 0",
                             "announce retired acme/ops/runner",
                         });
  // Created: state, then the cgroup entry; retired: the entry, then the state.
  CHECK(std::find(created.begin(), created.end(), "set_state 2 class 4") <
        std::find(created.begin(), created.end(), "set_cgroup 202 slot 2"));
  CHECK(w.maps.cgroups.empty());
  CHECK(w.maps.states.at(2).class_id == AGENTD_CLASS_EMPTY);
  CHECK(w.maps.states.at(2).flags == (1u << AGENTD_SANDBOX_GEN_SHIFT));  // inactive, its generation kept
  CHECK(w.maps.dns6_ports.empty());
  CHECK(w.side.links.empty());
  CHECK(w.side.dns_served.empty());
  CHECK(w.side.rows.empty());
  CHECK(w.registry.all().empty());
  // The slot's next sandbox gets the next generation.
  auto next = w.lifecycle.create(run_sandbox("acme/eng/coder", 203, 2, 4));
  REQUIRE(next);
  CHECK(next->generation == 2);
}

TEST_CASE("a retirement whose write fails leaves the sandbox whole") {
  for (int fail_at : {1, 2}) {
    World w;
    REQUIRE(w.lifecycle.create(run_sandbox("acme/eng/coder", 101, 1, 4)));
    const Snapshot before = w.snapshot();
    w.maps.fail_write_in = fail_at;
    INFO("failing write " << fail_at);
    CHECK_FALSE(w.lifecycle.retire(1, "its last process exited"));
    w.check_as(before);
    CHECK(w.registry.find_slot(1));
  }
  World w;
  CHECK_FALSE(w.lifecycle.retire(3, "no such sandbox"));
}

TEST_CASE("restore keeps a mapped sandbox's slot, class and generation, and clears what departed") {
  World w;
  // What a previous agentd left: cgroup 101 in slot 5 (active, class 9,
  // generation 4, ECONNREFUSED), cgroup 999 in slot 6, now gone.
  w.maps.cgroups = {{101, 5}, {999, 6}};
  w.maps.states[5] = state(9, AGENTD_SANDBOX_ACTIVE | AGENTD_SANDBOX_REFUSE_CONNREFUSED, 4);
  w.maps.states[6] = state(9, AGENTD_SANDBOX_ACTIVE, 2);
  for (uint32_t slot = 1; slot <= 6; ++slot)
    w.registry.set_generation(slot, daemon::generation_of(w.maps.states[slot]));

  std::vector<Sandbox> found = {run_sandbox("acme/eng/coder", 101, 0, 0),
                                adopted_sandbox("acme/ops/runner", "/sys/fs/cgroup/elsewhere", 102, 0, 0)};
  std::vector<std::string> claimed;
  auto claim = [&](const std::string& agent) {
    claimed.push_back(agent);
    return w.registry.free_slot(agent);
  };
  REQUIRE(w.lifecycle.restore(found, claim));

  const Sandbox* kept = w.registry.find_agent("acme/eng/coder");
  REQUIRE(kept);
  CHECK(kept->slot == 5);
  CHECK(kept->generation == 4);
  CHECK(kept->class_id == 9);
  CHECK(kept->refusal_flags == AGENTD_SANDBOX_REFUSE_CONNREFUSED);
  CHECK(claimed == std::vector<std::string>{"acme/ops/runner"});
  const Sandbox* fresh = w.registry.find_agent("acme/ops/runner");
  REQUIRE(fresh);
  CHECK(fresh->slot == 1);  // neither 5 nor 6, which the kernel still mapped
  CHECK(fresh->generation == 1);
  // Nothing written for the kept one but its links, deferred to the
  // enforcer's commit; the fresh one inactive until the policy is applied.
  CHECK(w.maps.writes == std::vector<std::string>{
                             "set_state 1 class 0",
                             "reset_counters 1",
                             "set_cgroup 102 slot 1",
                             "attach_links 102",
                             "delete_cgroup 999",
                             "set_state 6 class 0",
                         });
  CHECK(w.maps.states.at(5).flags == (AGENTD_SANDBOX_ACTIVE | AGENTD_SANDBOX_REFUSE_CONNREFUSED | (4u << 16)));
  CHECK(w.maps.states.at(6).flags == (2u << AGENTD_SANDBOX_GEN_SHIFT));  // departed: inactive, generation kept
  CHECK(w.maps.cgroups == std::map<uint64_t, uint32_t>{{101, 5}, {102, 1}});
  CHECK(w.maps.dns6_ports.empty());  // served once the proxy runs (serve_dns)
  CHECK(w.side.dns_served.empty());
  CHECK(w.side.rows.empty());  // restored from the store: not written back
  CHECK(w.registry.free_slot("x").value() == 2);
}

TEST_CASE("a restore that fails for one sandbox takes back its writes and keeps those before it") {
  World w;
  std::vector<Sandbox> found = {run_sandbox("acme/eng/a", 101, 0, 0), run_sandbox("acme/eng/b", 102, 0, 0)};
  w.maps.fail_write_in = 6;  // b's cgroup entry
  auto restored = w.lifecycle.restore(found, [&](const std::string& agent) { return w.registry.free_slot(agent); });
  REQUIRE_FALSE(restored);
  CHECK(w.registry.find_agent("acme/eng/a"));
  CHECK_FALSE(w.registry.find_agent("acme/eng/b"));
  CHECK(w.maps.cgroups == std::map<uint64_t, uint32_t>{{101, 1}});
  CHECK(w.maps.states.at(2).flags == 0);  // as before
}

TEST_CASE("steps dropped before commit, by an exception, are undone in reverse") {
  std::vector<std::string> log;
  try {
    daemon::Steps steps;
    for (const char* name : {"a", "b"})
      REQUIRE(steps.run(
          name, [&] { return log.push_back(std::string("do ") + name), ok_status(); },
          [&log, name] { return log.push_back(std::string("undo ") + name), ok_status(); }));
    throw std::runtime_error("in the middle");
  } catch (const std::runtime_error&) {
  }
  CHECK(log == std::vector<std::string>{"do a", "do b", "undo b", "undo a"});
  log.clear();
  {
    daemon::Steps steps;
    REQUIRE(steps.run(
        "a", [&] { return ok_status(); }, [&] { return log.emplace_back("undo a"), ok_status(); }));
    steps.commit();
  }
  CHECK(log.empty());
}
