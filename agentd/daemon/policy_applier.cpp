#include "agentd/daemon/policy_applier.hpp"

#include <chrono>
#include <functional>
#include <string_view>

#include <spdlog/spdlog.h>

namespace agentd::daemon {
namespace {

double ms_since(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
}

// The tenant's refuse_with as the sandbox state's flag.
uint32_t refusal_flags_in(const policy::PolicySet& policy, const policy::AgentName& agent) {
  const policy::TenantPolicy* tenant = policy.find(agent.tenant);
  return tenant && tenant->refuse_with == policy::RefuseWith::econnrefused ? AGENTD_SANDBOX_REFUSE_CONNREFUSED : 0u;
}

}  // namespace

std::string PolicyApplier::identity_of(const policy::CompiledClass& compiled) {
  std::string bytes;
  bytes.reserve(compiled.entries.size() * (sizeof(agentd_rule_value) + 24));
  for (const auto& e : compiled.entries) {
    bytes.append(reinterpret_cast<const char*>(&e.family), sizeof(e.family));
    bytes.append(reinterpret_cast<const char*>(e.addr.data()), e.addr.size());
    bytes.push_back(static_cast<char>(e.prefix));
    bytes.append(reinterpret_cast<const char*>(&e.value), sizeof(e.value));
  }
  for (const auto& n : compiled.names) {
    bytes.append(n.pattern);
    bytes.push_back('\0');
    bytes.append(reinterpret_cast<const char*>(&n.value), sizeof(n.value));
  }
  return fmt::format("{}#{:016x}#{}#{}", compiled.key, std::hash<std::string_view>{}(bytes),
                     compiled.entries.size(), compiled.names.size());
}

uint32_t PolicyApplier::allocate_id() {
  // Class ids are never reused within a daemon's life, so a sandbox never
  // sees another class's rules under its id, even for a moment.
  // (Four billion classes would take centuries of reloads.)
  return next_id_.fetch_add(1);
}

Status PolicyApplier::reserve_existing_ids() {
  auto in_rules = maps_.classes_in_rules();
  if (!in_rules) return in_rules.error();
  uint32_t next = next_id_;
  for (uint32_t id : *in_rules) next = std::max(next, id + 1);
  for (uint32_t slot = 1; slot < AGENTD_MAX_SANDBOXES; ++slot) {
    auto state = maps_.state(slot);
    if (state && (state->flags & AGENTD_SANDBOX_ACTIVE)) next = std::max(next, state->class_id + 1);
  }
  next_id_ = next;
  return ok_status();
}

Status PolicyApplier::write_class(uint32_t id, const policy::CompiledClass& compiled, double compile_ms,
                                  ClassWrite& largest) {
  const auto started = std::chrono::steady_clock::now();
  if (auto status = maps_.put_class(id, compiled.entries); !status) return status;
  if (auto status = maps_.put_names(id, compiled.names); !status) return status;
  const double write_ms = ms_since(started);
  spdlog::debug("class {} ({}): {} entries compiled in {:.1f} ms, written in {:.1f} ms", id, compiled.key,
                compiled.entries.size(), compile_ms, write_ms);
  if (compiled.entries.size() >= largest.entries) largest = {compiled.entries.size(), compile_ms, write_ms};
  return ok_status();
}

std::map<std::string, uint32_t> PolicyApplier::known_classes() const {
  std::map<std::string, uint32_t> known;
  for (const auto& [identity, record] : classes_) known.emplace(identity, record.id);
  return known;
}

Result<PreparedPolicy> PolicyApplier::prepare(std::shared_ptr<const policy::PolicySet> policy,
                                              const std::vector<policy::AgentName>& agents,
                                              const std::map<std::string, uint32_t>& known) {
  PreparedPolicy prepared;
  // 1. Compile everything before writing anything.
  std::vector<std::pair<policy::CompiledClass, double>> compiled_by_agent;
  for (const auto& agent : agents) {
    const auto started = std::chrono::steady_clock::now();
    auto compiled = policy::compile_for_agent(*policy, agent);
    if (!compiled) return make_error("{}: {}", agent.str(), compiled.error().describe());
    compiled_by_agent.emplace_back(std::move(*compiled), ms_since(started));
  }
  // 2. Additions: classes that are new get written under fresh ids.
  for (size_t i = 0; i < agents.size(); ++i) {
    auto& [compiled, compile_ms] = compiled_by_agent[i];
    if (compiled.empty()) {
      prepared.identity_by_agent[agents[i].str()] = "";
      continue;
    }
    std::string identity = identity_of(compiled);
    prepared.identity_by_agent[agents[i].str()] = identity;
    if (prepared.written.count(identity) || prepared.reused.count(identity)) continue;
    if (auto it = known.find(identity); it != known.end()) {
      prepared.reused.emplace(identity, it->second);
      ++prepared.report.classes_kept;
      continue;
    }
    const uint32_t id = allocate_id();
    // A failure leaves unused classes behind; the next cleanup removes them.
    if (auto status = write_class(id, compiled, compile_ms, prepared.largest); !status) return status.error();
    ++prepared.report.classes_written;
    prepared.report.entries_written += compiled.entries.size();
    prepared.written.emplace(identity, PreparedPolicy::Written{id, std::move(compiled)});
  }
  prepared.policy = std::move(policy);
  return prepared;
}

Result<CleanupPlan> PolicyApplier::commit(PreparedPolicy prepared, SandboxRegistry& registry) {
  std::map<std::string, ClassRecord> next_table;
  for (auto& [identity, written] : prepared.written)
    next_table.emplace(identity, ClassRecord{written.id, std::move(written.compiled)});
  for (const auto& [identity, id] : prepared.reused) {
    auto it = classes_.find(identity);
    if (it == classes_.end()) return make_error("class {} vanished during the reload", id);
    next_table.emplace(identity, it->second);
  }

  // Every sandbox's class under the new policy; those that appeared since
  // the prepare are compiled now (a handful at most).
  std::map<uint32_t, uint32_t> class_by_slot;
  for (const auto& [slot, sandbox] : registry.all()) {
    auto known = prepared.identity_by_agent.find(sandbox.agent.str());
    if (known != prepared.identity_by_agent.end()) {
      class_by_slot[slot] =
          known->second.empty() ? static_cast<uint32_t>(AGENTD_CLASS_EMPTY) : next_table.at(known->second).id;
      continue;
    }
    auto compiled = policy::compile_for_agent(*prepared.policy, sandbox.agent);
    if (!compiled) return make_error("{}: {}", sandbox.agent.str(), compiled.error().describe());
    if (compiled->empty()) {
      class_by_slot[slot] = AGENTD_CLASS_EMPTY;
      continue;
    }
    std::string identity = identity_of(*compiled);
    if (auto it = next_table.find(identity); it != next_table.end()) {
      class_by_slot[slot] = it->second.id;
      continue;
    }
    const uint32_t id = allocate_id();
    if (auto status = write_class(id, *compiled, 0, prepared.largest); !status) return status.error();
    ++prepared.report.classes_written;
    prepared.report.entries_written += compiled->entries.size();
    next_table.emplace(identity, ClassRecord{id, std::move(*compiled)});
    class_by_slot[slot] = id;
  }

  // The switch: one write per sandbox.
  for (auto& [slot, sandbox] : registry.all()) {
    const uint32_t id = class_by_slot[slot];
    const uint32_t refusal = refusal_flags_in(*prepared.policy, sandbox.agent);
    if (sandbox.class_id == id && sandbox.refusal_flags == refusal) {
      auto current = maps_.state(slot);
      if (current && current->class_id == id && (current->flags & AGENTD_SANDBOX_ACTIVE) &&
          (current->flags & AGENTD_SANDBOX_REFUSE_CONNREFUSED) == refusal)
        continue;
    }
    Sandbox next_sandbox = sandbox;
    next_sandbox.class_id = id;
    next_sandbox.refusal_flags = refusal;
    if (auto status = maps_.set_state(slot, active_state(next_sandbox)); !status) return status.error();  // the same generation
    sandbox.class_id = id;
    sandbox.refusal_flags = refusal;
    ++prepared.report.sandboxes_switched;
  }

  CleanupPlan plan;
  plan.below = next_id_;
  for (const auto& [identity, record] : next_table) plan.live.insert(record.id);
  if (prepared.largest.entries >= largest_write_.entries) largest_write_ = prepared.largest;
  last_report_ = prepared.report;
  classes_ = std::move(next_table);
  policy_ = std::move(prepared.policy);
  return plan;
}

Result<size_t> PolicyApplier::cleanup(const CleanupPlan& plan) {
  return maps_.delete_unused_classes(plan.live, plan.below);
}

Result<ApplyReport> PolicyApplier::apply(std::shared_ptr<const policy::PolicySet> policy,
                                         SandboxRegistry& registry) {
  std::vector<policy::AgentName> agents;
  for (const auto& [slot, sandbox] : registry.all()) agents.push_back(sandbox.agent);
  auto prepared = prepare(std::move(policy), agents, known_classes());
  if (!prepared) return prepared.error();
  auto plan = commit(std::move(*prepared), registry);
  if (!plan) return plan.error();
  auto removed = cleanup(*plan);
  if (!removed) return removed.error();
  ApplyReport report = last_report_;
  report.entries_removed = *removed;
  return report;
}

uint32_t PolicyApplier::refusal_flags_for(const policy::AgentName& agent) const {
  return policy_ ? refusal_flags_in(*policy_, agent) : 0;
}

Result<uint32_t> PolicyApplier::class_for(const policy::AgentName& agent) {
  if (!policy_) return static_cast<uint32_t>(AGENTD_CLASS_EMPTY);
  const auto started = std::chrono::steady_clock::now();
  auto compiled = policy::compile_for_agent(*policy_, agent);
  if (!compiled) return make_error("{}: {}", agent.str(), compiled.error().describe());
  const double ms = ms_since(started);
  if (compiled->empty()) return static_cast<uint32_t>(AGENTD_CLASS_EMPTY);
  std::string identity = identity_of(*compiled);
  if (auto it = classes_.find(identity); it != classes_.end()) return it->second.id;
  const uint32_t id = allocate_id();
  if (auto status = write_class(id, *compiled, ms, largest_write_); !status) return status.error();
  classes_.emplace(identity, ClassRecord{id, std::move(*compiled)});
  return id;
}

const policy::CompiledClass* PolicyApplier::compiled(uint32_t class_id) const {
  for (const auto& [identity, record] : classes_)
    if (record.id == class_id) return &record.compiled;
  return nullptr;
}

}  // namespace agentd::daemon
