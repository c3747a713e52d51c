// Ports as policy files and operators write them: one port ("443") or a
// range ("8000-8100"), and lists of them ("80,443,8000-8100") where a
// command line takes several at once (a name grant's ports).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::policy {

// "443" or "8000-8100", each port 1-65535, a range not backwards.
Result<PortRange> parse_port_range(std::string_view text);
// Comma-separated, no empty item; at most `max` items.
Result<std::vector<PortRange>> parse_port_list(std::string_view text, size_t max);
// Sorted, overlapping and adjacent ranges joined: the same ports in the
// fewest ranges.
std::vector<PortRange> merge_port_ranges(std::vector<PortRange> ports);
// Back to "80,443,8000-8100"; "" for an empty list.
std::string port_list_text(const std::vector<PortRange>& ports);

}  // namespace agentd::policy
