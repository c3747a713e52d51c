// Policies the benchmarks share: many rules as a real policy holds them.
#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace agentd::bench {

// `count` allow entries (policy YAML, under an `allow:` at the usual
// indent) of seeded random prefixes: /16-/32, one in a hundred /8-/15, no
// prefix twice (validate would warn about each), port 443. The trie holds
// them as a real policy's would be held: no two alike, every length.
inline std::string random_prefix_rules(int count, unsigned seed = 15) {
  std::mt19937 random(seed);
  std::set<std::pair<uint32_t, unsigned>> seen;
  std::string text;
  text.reserve(static_cast<size_t>(count) * 48);
  for (int i = 0; i < count;) {
    const unsigned prefix = random() % 100 == 0 ? 8 + random() % 8 : 16 + random() % 17;
    uint32_t addr = static_cast<uint32_t>(random());
    addr &= prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
    if (!seen.emplace(addr, prefix).second) continue;
    ++i;
    text += fmt::format("      - cidr: {}.{}.{}.{}/{}\n        ports: [443]\n", addr >> 24, (addr >> 16) & 0xff,
                        (addr >> 8) & 0xff, addr & 0xff, prefix);
  }
  return text;
}

}  // namespace agentd::bench
