// Policies the benchmarks share: many rules as a real policy holds them.
#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace agentd::bench {

struct Prefix {
  uint32_t address;  // host order, bits past the length zero
  unsigned length;
};

inline std::string dotted(uint32_t address) {
  return fmt::format("{}.{}.{}.{}", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff, address & 0xff);
}

// `count` seeded random IPv4 prefixes: /16-/32, one in a hundred /8-/15,
// none twice. One prefix may contain another, as in a real policy: the
// trie holds them as a real policy's would be held, every length.
inline std::vector<Prefix> random_prefixes(int count, unsigned seed = 15) {
  std::mt19937 random(seed);
  std::set<std::pair<uint32_t, unsigned>> seen;
  std::vector<Prefix> prefixes;
  prefixes.reserve(static_cast<size_t>(count));
  while (prefixes.size() < static_cast<size_t>(count)) {
    const unsigned length = random() % 100 == 0 ? 8 + random() % 8 : 16 + random() % 17;
    uint32_t address = static_cast<uint32_t>(random());
    address &= length == 32 ? 0xffffffffu : ~(0xffffffffu >> length);
    if (seen.emplace(address, length).second) prefixes.push_back({address, length});
  }
  return prefixes;
}

// The same prefixes as policy YAML allow entries (under an `allow:` at the
// usual indent), each for port 443 (validate would warn about a prefix
// twice, so there is none).
inline std::string random_prefix_rules(int count, unsigned seed = 15) {
  std::string text;
  text.reserve(static_cast<size_t>(count) * 48);
  for (const Prefix& p : random_prefixes(count, seed))
    text += fmt::format("      - cidr: {}/{}\n        ports: [443]\n", dotted(p.address), p.length);
  return text;
}

}  // namespace agentd::bench
