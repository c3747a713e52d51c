// A reload whose map writes fail half-way takes back what it wrote: the
// kernel's maps hold exactly the running policy's entries again, nothing
// orphaned, and the next reload works. Real kernel maps (made here, small,
// so that a policy can overflow them) under the daemon's own PolicyApplier.
#include <catch2/catch.hpp>

#include <bpf/bpf.h>

#include <cstring>
#include <map>
#include <string>
#include <tuple>

#include <fmt/format.h>

#include "agentd/bpf/enforcer.hpp"
#include "agentd/bpf/map_writer.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd/daemon/policy_applier.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/policy/loader.hpp"

using namespace agentd;

namespace {

constexpr uint32_t kTrieCapacity = 64;

// Every entry of the rules trie, by key bytes, with its value bytes.
std::map<std::string, std::string> trie_contents(int fd) {
  std::map<std::string, std::string> contents;
  agentd_rule_key key{}, next{};
  agentd_rule_value value{};
  bool first = true;
  while (bpf_map_get_next_key(fd, first ? nullptr : &key, &next) == 0) {
    first = false;
    REQUIRE(bpf_map_lookup_elem(fd, &next, &value) == 0);
    contents[std::string(reinterpret_cast<const char*>(&next), sizeof(next))] =
        std::string(reinterpret_cast<const char*>(&value), sizeof(value));
    key = next;
  }
  return contents;
}

// A tenant whose eng agents are allowed `eng` addresses and ops agents
// `ops` addresses, each a /32 of its own (starting at `eng_from`/`ops_from`).
std::shared_ptr<const policy::PolicySet> policy_of(int eng, int eng_from, int ops, int ops_from) {
  std::string text = "apiVersion: agentd/v1\ntenant: acme\nrules:\n";
  auto rule = [&](const char* agents, int count, int from) {
    if (count == 0) return;
    text += fmt::format("  - agents: \"{}\"\n    allow:\n", agents);
    for (int i = from; i < from + count; ++i)
      text += fmt::format("      - cidr: 198.51.100.{}/32\n        ports: [443]\n", i);
  };
  rule("acme/eng/*", eng, eng_from);
  rule("acme/ops/*", ops, ops_from);
  auto loaded = policy::parse_policy_texts({{"acme.yaml", text}});
  INFO(text);
  REQUIRE(loaded.ok());
  return std::make_shared<const policy::PolicySet>(std::move(*loaded.policy));
}

struct Maps {
  UniqueFd rules, names, state;
  bpf::MapFds fds;
  Maps() {
    LIBBPF_OPTS(bpf_map_create_opts, trie, .map_flags = BPF_F_NO_PREALLOC);
    rules = UniqueFd(bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "test_rules", sizeof(agentd_rule_key),
                                    sizeof(agentd_rule_value), kTrieCapacity, &trie));
    names = UniqueFd(bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "test_names", sizeof(agentd_name_key),
                                    sizeof(agentd_learned_value), kTrieCapacity, &trie));
    state = UniqueFd(
        bpf_map_create(BPF_MAP_TYPE_ARRAY, "test_state", sizeof(uint32_t), sizeof(agentd_sandbox_state), 16, nullptr));
    REQUIRE(rules.get() >= 0);
    REQUIRE(names.get() >= 0);
    REQUIRE(state.get() >= 0);
    fds.rules = rules.get();
    fds.names = names.get();
    fds.state = state.get();
  }
};

daemon::Sandbox sandbox_of(const char* agent, uint32_t slot) {
  daemon::Sandbox s;
  s.agent = *policy::parse_agent_name(agent);
  s.slot = slot;
  s.generation = 1;
  return s;
}

// The daemon's applier over those maps, with an eng and an ops sandbox.
struct Applier {
  Maps maps;
  bpf::MapWriter writer{maps.fds};
  daemon::PolicyApplier applier{writer};
  daemon::SandboxRegistry registry{15};
  Applier() {
    registry.put(sandbox_of("acme/eng/a", 1));
    registry.put(sandbox_of("acme/ops/b", 2));
  }
  auto apply(std::shared_ptr<const policy::PolicySet> policy) { return applier.apply(std::move(policy), registry); }
  std::map<std::string, std::string> trie() { return trie_contents(maps.rules.get()); }
};

}  // namespace

TEST_CASE("a reload that overflows the rules trie half-way leaves the running policy's entries, exactly") {
  Applier a;
  // Running: 20 entries for eng, 10 for ops (two classes).
  REQUIRE(a.apply(policy_of(20, 1, 10, 101)));
  const auto running = a.trie();
  REQUIRE(running.size() == 30);
  const uint32_t eng_class = a.registry.find_slot(1)->class_id;

  // Both classes change in place: eng gains 5, ops is replaced by 40 others,
  // which cannot fit beside what is there (64 entries at most).
  auto refused = a.apply(policy_of(25, 1, 40, 151));
  REQUIRE_FALSE(refused);
  INFO(refused.error().describe());
  CHECK(a.trie() == running);
  CHECK(a.registry.find_slot(1)->class_id == eng_class);
  auto state = a.writer.state(1);
  REQUIRE(state);
  CHECK(state->class_id == eng_class);

  // The next reload that fits goes through, in place, and leaves only itself.
  auto applied = a.apply(policy_of(25, 1, 12, 101));
  REQUIRE(applied);
  CHECK(applied->classes_updated == 2);
  CHECK(applied->classes_written == 0);
  CHECK(applied->entries_changed == 5 + 2);
  CHECK(a.trie().size() == 37);
}

TEST_CASE("a new class that does not fit is removed again, and the sandboxes keep theirs") {
  Applier a;
  REQUIRE(a.apply(policy_of(30, 1, 0, 0)));
  // ops has no rule: the two agents' classes differ (eng's, and the empty one).
  const auto running = a.trie();
  REQUIRE(running.size() == 30);

  // eng's class changes in place (30 entries again), then ops's new class
  // of 40 cannot fit beside it.
  auto refused = a.apply(policy_of(30, 31, 40, 101));
  REQUIRE_FALSE(refused);
  CHECK(a.trie() == running);
  auto state = a.writer.state(2);
  REQUIRE(state);
  CHECK(state->class_id == AGENTD_CLASS_EMPTY);
}
