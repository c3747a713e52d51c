#include "agentd/fleet/policy_read.hpp"

namespace agentd::fleet {

Result<RangeAnswer> read_policy_range(EtcdClient& client, const KeyLayout& layout) {
  const std::string prefix = layout.policy_prefix();
  auto text = client.call("/v3/kv/range", range_request(prefix, range_end_of_prefix(prefix)));
  if (!text) return text.error();
  return parse_range(*text);
}

}  // namespace agentd::fleet
