#include "agentd/fleet/policy_snapshot.hpp"

#include <algorithm>

#include "agentd/policy/loader.hpp"

namespace agentd::fleet {

Result<PolicySnapshot> snapshot_of(const RangeAnswer& range, const KeyLayout& layout) {
  if (range.more) return make_error("etcd left keys out of the policy read (more: true): refusing a partial policy");
  PolicySnapshot snapshot;
  for (const auto& kv : range.kvs) {
    auto key = layout.classify(kv.key);
    if (!key) return key.error();
    snapshot.revision = std::max(snapshot.revision, kv.mod_revision);
    if (key->kind == PolicyKeyKind::push_record) continue;
    if (kv.value.size() > policy::kMaxPolicyFileBytes)
      return make_error("etcd key \"{}\": larger than {} MiB, the limit of a policy file", kv.key,
                        policy::kMaxPolicyFileBytes >> 20);
    auto& texts = key->kind == PolicyKeyKind::tenant ? snapshot.tenants : snapshot.presets;
    texts.emplace_back(kv.key, kv.value);
  }
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::sort(snapshot.tenants.begin(), snapshot.tenants.end(), by_key);
  std::sort(snapshot.presets.begin(), snapshot.presets.end(), by_key);
  return snapshot;
}

}  // namespace agentd::fleet

namespace agentd::fleet {

bool same_policy(const PolicySnapshot& a, const PolicySnapshot& b) {
  return a.revision == b.revision && a.tenants == b.tenants && a.presets == b.presets;
}

}  // namespace agentd::fleet
