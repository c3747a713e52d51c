// The fleet's policy as read from etcd at one revision: the tenant files and
// presets under <prefix>/policy/, each named by its key (so a loader error
// reads "/agentd/policy/tenants/acme.yaml:3:5: ..."). Pure: unit-tested.
#pragma once

#include <cstdint>
#include <string>

#include "agentd/common/result.hpp"
#include "agentd/fleet/etcd_messages.hpp"
#include "agentd/fleet/key_layout.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::fleet {

struct PolicySnapshot {
  // The newest mod revision of the policy's keys: the revision of the push
  // that made it (every push writes the push record), the same on every host
  // whenever each read it. 0: etcd holds no policy.
  int64_t revision = 0;
  policy::PolicyTexts tenants, presets;  // (etcd key, text), in key order
};

bool same_policy(const PolicySnapshot& a, const PolicySnapshot& b);

// Every key of `range` (a read of layout.policy_prefix()) must be a tenant
// or preset file within the loader's size limit; the first that is not
// refuses the whole snapshot, naming the key and the reason.
Result<PolicySnapshot> snapshot_of(const RangeAnswer& range, const KeyLayout& layout);

}  // namespace agentd::fleet
