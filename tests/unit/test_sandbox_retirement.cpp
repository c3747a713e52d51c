// When a sandbox is retired, and the generation its slot's next one gets.
#include <catch2/catch.hpp>

#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/daemon/sandbox_retirement.hpp"
#include "agentd/sandbox/cgroup.hpp"

using namespace agentd::daemon;
using namespace std::chrono_literals;

TEST_CASE("a run sandbox is retired once empty, never while a command may be on its way in") {
  const auto grace = 10s;
  RetirementView view;
  view.populated = true;
  view.since_handed_out = 1h;
  CHECK_FALSE(retirement_reason(view, grace));  // a process runs in it
  view.populated = false;
  view.since_handed_out = 3s;
  CHECK_FALSE(retirement_reason(view, grace));  // just handed to `agentctl run`
  view.since_handed_out = 10s;
  CHECK(retirement_reason(view, grace) == "its last process exited");
  view.keep = true;
  CHECK_FALSE(retirement_reason(view, grace));  // sandbox.keep in the policy
  view.populated.reset();
  CHECK(retirement_reason(view, grace) == "its cgroup is gone");  // even a kept one
}

TEST_CASE("an adopted sandbox stays while its cgroup does, empty or not") {
  RetirementView view;
  view.adopted = true;
  view.populated = false;
  view.since_handed_out = 24h;
  CHECK_FALSE(retirement_reason(view, 1s));
  view.populated.reset();
  CHECK(retirement_reason(view, 1s) == "its cgroup is gone");
}

TEST_CASE("a slot's generation moves on with each sandbox, never back to 0") {
  CHECK(next_generation(0) == 1);
  CHECK(next_generation(41) == 42);
  CHECK(next_generation(UINT16_MAX) == 1);
  Sandbox s;
  s.class_id = 7;
  s.generation = 0xbeef;
  const auto state = active_state(s);
  CHECK(state.class_id == 7);
  CHECK((state.flags & AGENTD_SANDBOX_ACTIVE));
  CHECK(generation_of(state) == 0xbeef);
}

TEST_CASE("cgroup.events: populated read, anything else refused") {
  using agentd::sandbox::parse_populated;
  CHECK(*parse_populated("populated 1\nfrozen 0\n") == true);
  CHECK(*parse_populated("populated 0\nfrozen 0\n") == false);
  CHECK_FALSE(parse_populated("frozen 0\n"));
  CHECK_FALSE(parse_populated("populated yes\n"));
}

namespace {
Sandbox held(uint32_t slot, const std::string& agent, uint16_t generation = 1) {
  Sandbox s;
  s.slot = slot;
  s.agent = *agentd::policy::parse_agent_name(agent);
  s.generation = generation;
  return s;
}
}  // namespace

TEST_CASE("a slot passes to another agent only once every slot has been used, the oldest freed first") {
  SandboxRegistry registry(3);
  CHECK(*registry.free_slot("acme/eng/a") == 1);
  registry.put(held(1, "acme/eng/a"));
  registry.erase(1);
  // Another agent gets a slot never used; the same agent its own back.
  CHECK(*registry.free_slot("globex/x/b") == 2);
  CHECK(*registry.free_slot("acme/eng/a") == 1);
  registry.put(held(2, "globex/x/b"));
  registry.put(held(3, "acme/eng/c"));
  registry.erase(3);
  registry.erase(2);
  CHECK(registry.previous_agent(2) == "globex/x/b");
  // Every slot used: the one freed longest ago (slot 1, then 3, then 2).
  CHECK(*registry.free_slot("acme/eng/d") == 1);
  registry.put(held(1, "acme/eng/d", 2));
  CHECK(registry.generation(1) == 2);
  CHECK(*registry.free_slot("acme/eng/d") == 3);
  registry.put(held(3, "acme/eng/e", 2));
  registry.put(held(2, "acme/eng/f", 2));
  auto full = registry.free_slot("acme/eng/g");
  REQUIRE_FALSE(full);
  CHECK(full.error().describe().find("all 3 are in use") != std::string::npos);
}

TEST_CASE("slots used before a restart count as freed longest ago") {
  SandboxRegistry registry(2);
  registry.set_generation(1, 7);  // from the kernel: used by an earlier agentd
  registry.put(held(2, "acme/eng/a"));
  registry.erase(2);
  CHECK(*registry.free_slot("acme/eng/b") == 1);
}

TEST_CASE("a sandbox is found by its agent while it holds its slot, and not after") {
  SandboxRegistry registry(4);
  CHECK(registry.find_agent("acme/eng/a") == nullptr);
  registry.put(held(2, "acme/eng/a"));
  REQUIRE(registry.find_agent("acme/eng/a") != nullptr);
  CHECK(registry.find_agent("acme/eng/a")->slot == 2);
  CHECK(registry.find_agent("acme/eng/b") == nullptr);
  // The slot put again for another agent: the first is no longer there.
  registry.put(held(2, "acme/eng/b", 2));
  CHECK(registry.find_agent("acme/eng/a") == nullptr);
  CHECK(registry.find_agent("acme/eng/b")->slot == 2);
  // Two slots of one agent (a registry handed both): the lower answers,
  // and the other once the lower goes.
  registry.put(held(4, "acme/eng/b"));
  CHECK(registry.find_agent("acme/eng/b")->slot == 2);
  registry.erase(2);
  CHECK(registry.find_agent("acme/eng/b")->slot == 4);
  CHECK(*registry.free_slot("acme/eng/b") == 2);  // its own, freed; 4 is taken
  registry.erase(4);
  CHECK(registry.find_agent("acme/eng/b") == nullptr);
  CHECK(registry.all().empty());
}
