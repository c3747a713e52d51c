#include "agentd/dns/reverse_name.hpp"

#include <cctype>
#include <string>
#include <vector>

#include "agentd_abi.h"

namespace agentd::dns {
namespace {

std::string lower(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string_view> labels(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t dot = s.find('.'); dot != std::string_view::npos; dot = s.find('.', start)) {
    out.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
  out.push_back(s.substr(start));
  return out;
}

}  // namespace

bool is_reverse_name(std::string_view name) {
  const std::string n = lower(name);
  return n == "in-addr.arpa" || n == "ip6.arpa" || ends_with(n, ".in-addr.arpa") || ends_with(n, ".ip6.arpa");
}

std::optional<ReverseAddress> reverse_address(std::string_view name) {
  const std::string n = lower(name);
  ReverseAddress result;
  if (ends_with(n, ".in-addr.arpa")) {
    const auto octets = labels(std::string_view(n).substr(0, n.size() - std::string_view(".in-addr.arpa").size()));
    if (octets.size() != 4) return std::nullopt;
    for (size_t i = 0; i < 4; ++i) {
      const auto& o = octets[3 - i];
      // Decimal 0-255, no sign, no leading zero (as reverse names are written).
      if (o.empty() || o.size() > 3 || (o.size() > 1 && o[0] == '0')) return std::nullopt;
      unsigned value = 0;
      for (char c : o) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
      }
      if (value > 255) return std::nullopt;
      result.addr[i] = static_cast<uint8_t>(value);
    }
    result.family = AGENTD_FAMILY_IPV4;
    return result;
  }
  if (ends_with(n, ".ip6.arpa")) {
    const auto nibbles = labels(std::string_view(n).substr(0, n.size() - std::string_view(".ip6.arpa").size()));
    if (nibbles.size() != 32) return std::nullopt;
    for (size_t i = 0; i < 32; ++i) {
      const auto& h = nibbles[31 - i];
      if (h.size() != 1 || !std::isxdigit(static_cast<unsigned char>(h[0]))) return std::nullopt;
      const uint8_t v =
          static_cast<uint8_t>(std::isdigit(static_cast<unsigned char>(h[0])) ? h[0] - '0' : h[0] - 'a' + 10);
      result.addr[i / 2] = static_cast<uint8_t>(result.addr[i / 2] | (i % 2 == 0 ? v << 4 : v));
    }
    result.family = AGENTD_FAMILY_IPV6;
    return result;
  }
  return std::nullopt;
}

}  // namespace agentd::dns
