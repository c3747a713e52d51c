// Pins by layout (agentd/bpf/pin_layout.hpp): which directory is this
// layout's, which is the previous one to carry over from and remove, and
// when a pinned map is reused or its entries copied. No root.
#include <linux/bpf.h>

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "agentd/bpf/pin_layout.hpp"

using namespace agentd::bpf;
using Entries = std::vector<std::pair<std::string, bool>>;

TEST_CASE("a layout's pins are maps/v<abi>, and the previous pins are the newest other layout's") {
  const std::filesystem::path maps = "/sys/fs/bpf/agentd/maps";
  auto fresh = choose_pin_dirs(maps, 5, {});
  CHECK(fresh.current == maps / "v5");
  CHECK(fresh.staging == maps / "staging-v5");
  CHECK_FALSE(fresh.previous);
  CHECK_FALSE(choose_pin_dirs(maps, 5, {{"v5", true}}).previous);
  // Another layout's directory, newer or older; the newest of several.
  CHECK(choose_pin_dirs(maps, 5, {{"v4", true}, {"v5", true}}).previous == maps / "v4");
  CHECK(choose_pin_dirs(maps, 5, {{"v3", true}, {"v4", true}}).previous == maps / "v4");
  CHECK(choose_pin_dirs(maps, 4, {{"v5", true}}).previous == maps / "v5");
  // An agentd from before versioned pins kept them in maps/ itself.
  CHECK(choose_pin_dirs(maps, 4, {{"agentd_rules", false}, {"agentd_state", false}}).previous == maps);
  CHECK(choose_pin_dirs(maps, 4, {{"agentd_rules", false}, {"v3", true}}).previous == maps / "v3");
  // Names that are no layout's: not taken for one.
  for (const Entries& others : {Entries{{"v", true}}, Entries{{"v4x", true}}, Entries{{"v-1", true}},
                                Entries{{"staging-v4", true}}, Entries{{"v4", false}}, Entries{{"notes", false}}}) {
    INFO(others[0].first);
    CHECK_FALSE(choose_pin_dirs(maps, 5, others).previous);
  }
}

TEST_CASE("after the swap every other layout's pins go, and nothing else") {
  const Entries entries = {
      {"v5", true},         {"v4", true},   {"staging-v5", true}, {"agentd_rules", false}, {"agentd_state", false},
      {"something", false}, {"other", true}};
  CHECK(other_pins(entries, 5) == std::vector<std::string>{"v4", "staging-v5", "agentd_rules", "agentd_state"});
  CHECK(other_pins({{"v5", true}}, 5).empty());
}

TEST_CASE("a pinned map is reused only with this build's layout, and the refusal says what differs") {
  const MapLayout built{BPF_MAP_TYPE_HASH, 24, 144, 65536, BPF_F_NO_PREALLOC};
  CHECK(layout_mismatch(built, built).empty());
  MapLayout pinned = built;
  pinned.value_size = 136;
  CHECK(layout_mismatch(pinned, built) == "value size 136 (this build: 144)");
  pinned.key_size = 16;
  pinned.max_entries = 1024;
  CHECK(layout_mismatch(pinned, built) ==
        "key size 16 (this build: 24), value size 136 (this build: 144), max entries 1024 (this build: 65536)");
  pinned = built;
  pinned.type = BPF_MAP_TYPE_LRU_HASH;
  pinned.flags = 0;
  CHECK(layout_mismatch(pinned, built).find("type") == 0);
  CHECK(layout_mismatch(pinned, built).find("flags 0 (this build: 1)") != std::string::npos);
}

TEST_CASE("entries are carried over between maps of one type, key, value and flags, whatever their size") {
  const MapLayout trie{BPF_MAP_TYPE_LPM_TRIE, 24, 144, 1048576, BPF_F_NO_PREALLOC};
  CHECK(entries_copyable(trie, trie));
  MapLayout bigger = trie;
  bigger.max_entries *= 2;
  CHECK(entries_copyable(trie, bigger));
  MapLayout other = trie;
  other.value_size += 8;
  CHECK_FALSE(entries_copyable(trie, other));
  other = trie;
  other.flags = 0;
  CHECK_FALSE(entries_copyable(trie, other));
  other = trie;
  other.type = BPF_MAP_TYPE_HASH;
  CHECK_FALSE(entries_copyable(trie, other));
  // Per-socket storage, rings and sockhashes hold nothing to carry over.
  for (uint32_t type : {BPF_MAP_TYPE_SK_STORAGE, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_SOCKHASH}) {
    const MapLayout layout{type, 4, 8, 0, 0};
    CHECK_FALSE(entries_copyable(layout, layout));
  }
  for (uint32_t type : {BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_HASH}) {
    const MapLayout layout{type, 4, 8, 16, 0};
    CHECK(entries_copyable(layout, layout));
  }
}
