#include "agentd/daemon/policy_applier.hpp"

#include <chrono>
#include <functional>
#include <string_view>

#include <spdlog/spdlog.h>

namespace agentd::daemon {

std::string PolicyApplier::identity_of(const policy::CompiledClass& compiled) {
  std::string bytes;
  bytes.reserve(compiled.entries.size() * (sizeof(agentd_rule_value) + 24));
  for (const auto& e : compiled.entries) {
    bytes.append(reinterpret_cast<const char*>(&e.family), sizeof(e.family));
    bytes.append(reinterpret_cast<const char*>(e.addr.data()), e.addr.size());
    bytes.push_back(static_cast<char>(e.prefix));
    bytes.append(reinterpret_cast<const char*>(&e.value), sizeof(e.value));
  }
  return fmt::format("{}#{:016x}#{}", compiled.key, std::hash<std::string_view>{}(bytes),
                     compiled.entries.size());
}

uint32_t PolicyApplier::allocate_id() {
  // Class ids are never reused within a daemon's life, so a sandbox never
  // sees another class's rules under its id, even for a moment.
  if (next_id_ == 0 || next_id_ == UINT32_MAX) next_id_ = 1;
  return next_id_++;
}

Status PolicyApplier::reserve_existing_ids() {
  auto in_rules = maps_.classes_in_rules();
  if (!in_rules) return in_rules.error();
  for (uint32_t id : *in_rules) next_id_ = std::max(next_id_, id + 1);
  for (uint32_t slot = 1; slot < AGENTD_MAX_SANDBOXES; ++slot) {
    auto state = maps_.state(slot);
    if (state && (state->flags & AGENTD_SANDBOX_ACTIVE)) next_id_ = std::max(next_id_, state->class_id + 1);
  }
  return ok_status();
}

Result<uint32_t> PolicyApplier::ensure_class(std::map<std::string, ClassRecord>& table,
                                             policy::CompiledClass compiled, double compile_ms, ApplyReport& report) {
  if (compiled.entries.empty()) return static_cast<uint32_t>(AGENTD_CLASS_EMPTY);
  std::string identity = identity_of(compiled);
  if (auto it = table.find(identity); it != table.end()) return it->second.id;
  if (auto it = classes_.find(identity); it != classes_.end()) {
    ++report.classes_kept;
    return table.emplace(identity, it->second).first->second.id;
  }
  const uint32_t id = allocate_id();
  const auto started = std::chrono::steady_clock::now();
  if (auto status = maps_.put_class(id, compiled.entries); !status) return status.error();
  const double write_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  spdlog::debug("class {} ({}): {} entries compiled in {:.1f} ms, written in {:.1f} ms", id, compiled.key,
                compiled.entries.size(), compile_ms, write_ms);
  if (compiled.entries.size() >= largest_write_.entries) largest_write_ = {compiled.entries.size(), compile_ms, write_ms};
  ++report.classes_written;
  report.entries_written += compiled.entries.size();
  table.emplace(identity, ClassRecord{id, std::move(compiled)});
  return id;
}

Result<ApplyReport> PolicyApplier::apply(std::shared_ptr<const policy::PolicySet> policy,
                                         SandboxRegistry& registry) {
  // 1. Compile everything before touching the kernel.
  std::map<uint32_t, std::pair<policy::CompiledClass, double>> compiled_by_slot;
  for (const auto& [slot, sandbox] : registry.all()) {
    const auto started = std::chrono::steady_clock::now();
    auto compiled = policy::compile_for_agent(*policy, sandbox.agent);
    if (!compiled) return make_error("{}: {}", sandbox.agent.str(), compiled.error().describe());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    compiled_by_slot.emplace(slot, std::make_pair(std::move(*compiled), ms));
  }

  // 2. Additions: classes that are new get written under fresh ids.
  ApplyReport report;
  std::map<std::string, ClassRecord> next_table;
  std::map<uint32_t, uint32_t> class_by_slot;
  for (auto& [slot, compiled] : compiled_by_slot) {
    auto id = ensure_class(next_table, std::move(compiled.first), compiled.second, report);
    if (!id) return id.error();  // new classes written so far are unused: removed below next time
    class_by_slot[slot] = *id;
  }

  // 3. The switch: one write per sandbox.
  for (auto& [slot, sandbox] : registry.all()) {
    const uint32_t id = class_by_slot[slot];
    if (sandbox.class_id == id) {
      auto current = maps_.state(slot);
      if (current && current->class_id == id && (current->flags & AGENTD_SANDBOX_ACTIVE)) continue;
    }
    if (auto status = maps_.set_state(slot, {id, AGENTD_SANDBOX_ACTIVE}); !status) return status.error();
    sandbox.class_id = id;
    ++report.sandboxes_switched;
  }

  // 4. Removals: whatever no sandbox uses any more.
  std::set<uint32_t> live;
  for (const auto& [identity, record] : next_table) live.insert(record.id);
  auto removed = maps_.delete_classes_except(live);
  if (!removed) return removed.error();
  report.entries_removed = *removed;

  classes_ = std::move(next_table);
  policy_ = std::move(policy);
  return report;
}

Result<uint32_t> PolicyApplier::class_for(const policy::AgentName& agent) {
  if (!policy_) return static_cast<uint32_t>(AGENTD_CLASS_EMPTY);
  const auto started = std::chrono::steady_clock::now();
  auto compiled = policy::compile_for_agent(*policy_, agent);
  if (!compiled) return make_error("{}: {}", agent.str(), compiled.error().describe());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  ApplyReport unused;
  return ensure_class(classes_, std::move(*compiled), ms, unused);
}

const policy::CompiledClass* PolicyApplier::compiled(uint32_t class_id) const {
  for (const auto& [identity, record] : classes_)
    if (record.id == class_id) return &record.compiled;
  return nullptr;
}

}  // namespace agentd::daemon
