// One read of the fleet's policy keys, the push record included.
#pragma once

#include "agentd/fleet/etcd_client.hpp"
#include "agentd/fleet/etcd_messages.hpp"
#include "agentd/fleet/key_layout.hpp"

namespace agentd::fleet {

Result<RangeAnswer> read_policy_range(EtcdClient& client, const KeyLayout& layout);

}  // namespace agentd::fleet
