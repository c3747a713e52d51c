// The in-place class update: its writes take the trie from one class's
// content to another's, and at every step in between each destination is
// judged by its old verdict or its new one, switching once, never back.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <optional>
#include <random>

#include "agentd/policy/class_update.hpp"

using namespace agentd::policy;

namespace {

using Trie = std::map<std::pair<uint8_t, uint8_t>, agentd_rule_value>;  // (last octet, prefix) -> value

uint8_t masked(uint8_t octet, uint8_t prefix) {
  const unsigned bits = prefix - 24u;
  return bits == 0 ? 0 : static_cast<uint8_t>(octet & (0xffu << (8 - bits)));
}

// A class over 198.51.100.0/24 with prefixes /24../32, random values.
CompiledClass random_class(std::mt19937& random) {
  Trie entries;
  const int n = static_cast<int>(random() % 12);
  for (int k = 0; k < n; ++k) {
    const uint8_t prefix = static_cast<uint8_t>(24 + random() % 9);
    agentd_rule_value value{};
    value.count = 1;
    value.ranges[0].lo = static_cast<uint16_t>(1 + random() % 3);  // few values: unchanged entries happen
    value.ranges[0].hi = value.ranges[0].lo;
    entries[{masked(static_cast<uint8_t>(random()), prefix), prefix}] = value;
  }
  CompiledClass compiled;
  for (const auto& [key, value] : entries) {
    CompiledEntry e;
    e.addr = {198, 51, 100, key.first};
    e.prefix = key.second;
    e.value = value;
    compiled.entries.push_back(e);
  }
  std::sort(compiled.entries.begin(), compiled.entries.end(), [](const CompiledEntry& a, const CompiledEntry& b) {
    return std::tie(a.family, a.addr, a.prefix) < std::tie(b.family, b.addr, b.prefix);
  });
  return compiled;
}

Trie trie_of(const CompiledClass& compiled) {
  Trie trie;
  for (const auto& e : compiled.entries) trie[{e.addr[3], e.prefix}] = e.value;
  return trie;
}

// The kernel's longest-prefix lookup.
std::optional<agentd_rule_value> lookup(const Trie& trie, uint8_t dest) {
  for (int prefix = 32; prefix >= 24; --prefix) {
    auto it = trie.find({masked(dest, static_cast<uint8_t>(prefix)), static_cast<uint8_t>(prefix)});
    if (it != trie.end()) return it->second;
  }
  return std::nullopt;
}

bool same(const std::optional<agentd_rule_value>& a, const std::optional<agentd_rule_value>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || std::memcmp(&*a, &*b, sizeof(*a)) == 0;
}

}  // namespace

TEST_CASE("an in-place class update switches each destination once, from its old verdict to its new") {
  std::mt19937 random(15);  // NOLINT(cert-msc51-cpp): a fixed seed, so that a failure reproduces
  for (int trial = 0; trial < 2000; ++trial) {
    const CompiledClass from = random_class(random), to = random_class(random);
    const Trie old_trie = trie_of(from), new_trie = trie_of(to);
    const ClassUpdate update = plan_class_update(from, to);
    Trie trie = old_trie;
    std::array<bool, 256> switched{};
    auto check_every_destination = [&] {
      for (int dest = 0; dest < 256; ++dest) {
        const auto now = lookup(trie, static_cast<uint8_t>(dest));
        const auto before = lookup(old_trie, static_cast<uint8_t>(dest));
        const auto after = lookup(new_trie, static_cast<uint8_t>(dest));
        INFO("trial " << trial << ", destination .");
        INFO(dest);
        REQUIRE((same(now, before) || same(now, after)));
        if (switched[dest]) REQUIRE(same(now, after));
        if (same(now, after) && !same(now, before)) switched[dest] = true;
      }
    };
    for (const CompiledEntry* e : update.put_entries) {
      trie[{e->addr[3], e->prefix}] = e->value;
      check_every_destination();
    }
    for (const CompiledEntry* e : update.delete_entries) {
      REQUIRE(trie.erase({e->addr[3], e->prefix}) == 1);
      check_every_destination();
    }
    REQUIRE(trie.size() == new_trie.size());
    for (const auto& [key, value] : new_trie) REQUIRE(std::memcmp(&trie.at(key), &value, sizeof(value)) == 0);
  }
}

TEST_CASE("an update writes only what changed, and nothing for an unchanged class") {
  std::mt19937 random(16);  // NOLINT(cert-msc51-cpp): a fixed seed, so that a failure reproduces
  const CompiledClass c = random_class(random);
  CHECK(plan_class_update(c, c).size() == 0);
  CompiledClass one_more = c;
  CompiledEntry extra;
  extra.addr = {203, 0, 113, 7};
  extra.prefix = 32;
  one_more.entries.push_back(extra);  // sorts after every 198.51.100.x
  auto widen = plan_class_update(c, one_more);
  REQUIRE(widen.put_entries.size() == 1);
  CHECK(widen.put_entries[0]->addr[0] == 203);
  CHECK(widen.delete_entries.empty());
  auto narrow = plan_class_update(one_more, c);
  CHECK(narrow.put_entries.empty());
  REQUIRE(narrow.delete_entries.size() == 1);

  CompiledClass named, renamed;
  named.names.push_back({"api.github.com", {}, {}});
  named.names.push_back({"*.github.com", {}, {}});
  renamed.names.push_back({"*.github.com", {}, {}});
  renamed.names.push_back({"a.api.github.com", {}, {}});
  auto names = plan_class_update(named, renamed);
  REQUIRE(names.put_names.size() == 1);
  CHECK(names.put_names[0]->pattern == "a.api.github.com");
  REQUIRE(names.delete_names.size() == 1);
  CHECK(names.delete_names[0]->pattern == "api.github.com");
}
