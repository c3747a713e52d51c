// `agentctl policy push`: what to write so that etcd holds exactly a local
// policy dir, as one transaction that fails when anyone pushed (or edited
// the policy keys) since the revision the plan was made against: a
// concurrent push is refused, never merged. Pure: unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agentd/fleet/etcd_messages.hpp"
#include "agentd/fleet/key_layout.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::fleet {

struct KeyChange {
  enum class Kind { add, update, remove };
  Kind kind;
  std::string key;
};

struct PushPlan {
  int64_t base_revision = 0;  // the revision etcd's policy was read at
  std::vector<KeyChange> changes;
  TxnRequest txn;  // empty when there are no changes
};

// `current`: a read of layout.policy_prefix() (the push record included).
// `tenants`/`presets`: the local files as (path, text); only
// their file names matter. `push_record` is the JSON written to push_key().
// `base_revision`: the revision the caller diffed against (0: the read's);
// the transaction fails if any policy key changed after it, or if the push
// record's mod revision is no longer `push_mod_at_base` (its mod revision
// at base_revision, 0 when there was none): a push, or a delete of the
// whole prefix, since then.
Result<PushPlan> plan_push(const RangeAnswer& current, const KeyLayout& layout, const policy::PolicyTexts& tenants,
                           const policy::PolicyTexts& presets, const std::string& push_record,
                           int64_t base_revision = 0, std::optional<int64_t> push_mod_at_base = std::nullopt);

const char* change_sign(KeyChange::Kind kind);  // "+", "~", "-"

}  // namespace agentd::fleet
