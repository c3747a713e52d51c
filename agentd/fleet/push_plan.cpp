#include "agentd/fleet/push_plan.hpp"

#include <filesystem>
#include <map>

namespace agentd::fleet {

Result<PushPlan> plan_push(const RangeAnswer& current, const KeyLayout& layout, const policy::PolicyTexts& tenants,
                           const policy::PolicyTexts& presets, const std::string& push_record, int64_t base_revision,
                           std::optional<int64_t> push_mod_at_base) {
  std::map<std::string, std::string> wanted;
  auto add = [&](const policy::PolicyTexts& texts, bool preset) -> Status {
    for (const auto& [path, text] : texts) {
      const std::string file = std::filesystem::path(path).filename().string();
      if (!is_policy_file_name(file))
        return make_error("{}: \"{}\" is not a file name a fleet key may carry ([A-Za-z0-9_.-]+.yaml or .yml)", path,
                          file);
      const std::string key = preset ? layout.preset_key(file) : layout.tenant_key(file);
      if (!wanted.emplace(key, text).second) return make_error("{}: a second file for key {}", path, key);
    }
    return ok_status();
  };
  if (auto st = add(tenants, false); !st) return st.error();
  if (auto st = add(presets, true); !st) return st.error();

  PushPlan plan;
  plan.base_revision = base_revision > 0 ? base_revision : current.revision;
  std::map<std::string, const std::string*> held;
  int64_t push_mod_now = 0;
  for (const auto& kv : current.kvs) {
    if (kv.key == layout.push_key())
      push_mod_now = kv.mod_revision;
    else
      held.emplace(kv.key, &kv.value);
  }
  for (const auto& [key, text] : wanted) {
    auto it = held.find(key);
    if (it == held.end()) {
      plan.changes.push_back({KeyChange::Kind::add, key});
      plan.txn.puts.emplace_back(key, text);
    } else if (*it->second != text) {
      plan.changes.push_back({KeyChange::Kind::update, key});
      plan.txn.puts.emplace_back(key, text);
    }
  }
  for (const auto& [key, value] : held) {
    if (wanted.contains(key)) continue;
    plan.changes.push_back({KeyChange::Kind::remove, key});
    plan.txn.deletes.push_back(key);
  }
  if (plan.changes.empty()) return plan;
  plan.txn.puts.emplace_back(layout.push_key(), push_record);
  // Any push since the base rewrote the push record (and a wiped prefix
  // removed it: a missing key compares as 0), and any other write to a
  // policy key is newer than the base; either fails the transaction,
  // which then writes nothing: refused, never merged.
  plan.txn.compares.push_back({layout.push_key(), std::nullopt, Compare::Target::mod, Compare::Result::equal,
                               push_mod_at_base.value_or(push_mod_now)});
  plan.txn.compares.push_back({layout.policy_prefix(), range_end_of_prefix(layout.policy_prefix()),
                               Compare::Target::mod, Compare::Result::less, plan.base_revision + 1});
  return plan;
}

const char* change_sign(KeyChange::Kind kind) {
  switch (kind) {
    case KeyChange::Kind::add:
      return "+";
    case KeyChange::Kind::update:
      return "~";
    case KeyChange::Kind::remove:
      return "-";
  }
  return "?";
}

}  // namespace agentd::fleet
