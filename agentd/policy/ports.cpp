#include "agentd/policy/ports.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace agentd::policy {
namespace {

bool parse_port(std::string_view digits, uint16_t& out) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value < 1 || value > 65535)
    return false;
  out = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

Result<PortRange> parse_port_range(std::string_view text) {
  PortRange range;
  const auto dash = text.find('-');
  const bool parsed = dash == std::string_view::npos
                          ? parse_port(text, range.lo) && parse_port(text, range.hi)
                          : parse_port(text.substr(0, dash), range.lo) && parse_port(text.substr(dash + 1), range.hi);
  if (!parsed) return make_error("\"{}\" is not a port (1-65535) or a port range like \"8000-8100\"", text);
  if (range.lo > range.hi) return make_error("port range \"{}\" runs backwards", text);
  return range;
}

Result<std::vector<PortRange>> parse_port_list(std::string_view text, size_t max) {
  std::vector<PortRange> ports;
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto range = parse_port_range(item);
    if (!range) return range.error();
    ports.push_back(*range);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (ports.size() > max) return make_error("{} ports or ranges: at most {}", ports.size(), max);
  return ports;
}

std::vector<PortRange> merge_port_ranges(std::vector<PortRange> ports) {
  std::sort(ports.begin(), ports.end(), [](const auto& a, const auto& b) { return a.lo < b.lo; });
  std::vector<PortRange> runs;
  for (const auto& r : ports) {
    if (!runs.empty() && r.lo <= static_cast<unsigned>(runs.back().hi) + 1)
      runs.back().hi = std::max(runs.back().hi, r.hi);
    else
      runs.push_back(r);
  }
  return runs;
}

std::string port_list_text(const std::vector<PortRange>& ports) {
  std::string text;
  for (const auto& r : ports) {
    if (!text.empty()) text += ',';
    text += r.lo == r.hi ? fmt::format("{}", r.lo) : fmt::format("{}-{}", r.lo, r.hi);
  }
  return text;
}

}  // namespace agentd::policy
