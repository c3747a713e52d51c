#include "agentd/daemon/policy_applier.hpp"

#include <chrono>
#include <functional>
#include <set>
#include <string_view>

#include <spdlog/spdlog.h>

#include "agentd/policy/class_update.hpp"

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
  return fmt::format("{}#{:016x}#{}#{}", compiled.key, std::hash<std::string_view>{}(bytes), compiled.entries.size(),
                     compiled.names.size());
}

uint32_t PolicyApplier::allocate_id() {
  // Class ids are never reused within a daemon's life, so a sandbox never
  // sees another class's rules under its id, even for a moment.
  // (Four billion classes would take centuries of reloads.)
  return next_id_.fetch_add(1);
}

Status PolicyApplier::reserve_existing_ids() {
  // What a previous daemon wrote becomes this one's starting table, under
  // identities no compile gives ("kernel#ID"): a sandbox restored onto one
  // of them is moved to its class by changing that class in place, only
  // where the policy differs from what the maps hold. A restart writes
  // nothing when nothing changed, and a class too large for two copies
  // (1,000,000 rules) survives the restart.
  auto in_kernel = maps_.read_classes();
  if (!in_kernel) return in_kernel.error();
  uint32_t next = next_id_;
  for (auto& [id, compiled] : *in_kernel) {
    next = std::max(next, id + 1);
    classes_.emplace(fmt::format("kernel#{}", id),
                     ClassRecord{id, std::make_shared<const policy::CompiledClass>(std::move(compiled))});
  }
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

std::map<std::string, KnownClass> PolicyApplier::known_classes() const {
  std::map<std::string, KnownClass> known;
  for (const auto& [identity, record] : classes_) known.emplace(identity, KnownClass{record.id, record.compiled});
  return known;
}

Result<PreparedPolicy> PolicyApplier::prepare(std::shared_ptr<const policy::PolicySet> policy,
                                              const std::vector<policy::AgentName>& agents,
                                              const std::map<std::string, KnownClass>& known,
                                              const std::map<std::string, uint32_t>& class_of) {
  PreparedPolicy prepared;
  // 1. Compile everything before writing anything: each class once, however
  // many sandboxes share it (agents of one key compile alike).
  std::vector<std::pair<std::shared_ptr<policy::CompiledClass>, double>> compiled_by_key;
  std::map<std::string, size_t> index_by_key;
  for (const auto& agent : agents) {
    std::string key = policy::class_key_for(*policy, agent);
    prepared.key_by_agent[agent.str()] = key;
    if (index_by_key.contains(key)) continue;
    const auto started = std::chrono::steady_clock::now();
    auto compiled = policy::compile_for_agent(*policy, agent);
    if (!compiled) return make_error("{}: {}", agent.str(), compiled.error().describe());
    index_by_key.emplace(std::move(key), compiled_by_key.size());
    compiled_by_key.emplace_back(std::make_shared<policy::CompiledClass>(std::move(*compiled)), ms_since(started));
  }
  for (auto& [key, index] : index_by_key) {
    const auto& compiled = *compiled_by_key[index].first;
    prepared.identity_by_key[key] = compiled.empty() ? "" : identity_of(compiled);
  }

  // 2. Classes to change in place: an old class whose sandboxes all move to
  // one class that is not in the maps yet, and that nothing else needs.
  std::map<std::string, uint32_t> donor_for;  // new identity -> old class id
  {
    std::set<std::string> wanted;
    for (const auto& [key, identity] : prepared.identity_by_key) wanted.insert(identity);
    std::map<uint32_t, std::set<std::string>> moves;  // old class -> new identities of its sandboxes
    for (const auto& agent : agents) {
      auto now = class_of.find(agent.str());
      if (now == class_of.end() || now->second == AGENTD_CLASS_EMPTY) continue;
      moves[now->second].insert(prepared.identity_by_key.at(prepared.key_by_agent.at(agent.str())));
    }
    for (const auto& [identity, k] : known) {
      auto move = moves.find(k.id);
      if (wanted.contains(identity) || move == moves.end() || move->second.size() != 1) continue;
      const std::string& target = *move->second.begin();
      if (target.empty() || known.contains(target) || donor_for.contains(target)) continue;
      donor_for.emplace(target, k.id);
    }
  }

  // 3. Additions: in place or under fresh ids. A failure takes back what
  // was written, so the maps hold what they held before.
  auto fail = [&](const Status& status) -> Result<PreparedPolicy> {
    if (auto undone = abandon(prepared); !undone)
      spdlog::error("taking back a refused reload's writes: {}", undone.error().describe());
    return status.error();
  };
  // An exception half-way (memory, at a million rules) takes back as well.
  try {
    for (auto& [key, index] : index_by_key) {
      auto& [compiled, compile_ms] = compiled_by_key[index];
      const std::string& identity = prepared.identity_by_key[key];
      if (identity.empty()) continue;
      if (prepared.written.contains(identity) || prepared.reused.contains(identity)) continue;
      if (auto it = known.find(identity); it != known.end()) {
        prepared.reused.emplace(identity, it->second.id);
        ++prepared.report.classes_kept;
        continue;
      }
      if (auto donor = donor_for.find(identity); donor != donor_for.end()) {
        std::shared_ptr<const policy::CompiledClass> before;
        for (const auto& [old_identity, k] : known)
          if (k.id == donor->second) before = k.compiled;
        const auto started = std::chrono::steady_clock::now();
        const policy::ClassUpdate update = policy::plan_class_update(*before, *compiled);
        prepared.updated.push_back({donor->second, before, identity});
        prepared.written.emplace(identity, PreparedPolicy::Written{donor->second, compiled});
        if (auto status = maps_.update_class(donor->second, update); !status) return fail(status);
        spdlog::debug("class {} changed in place: {} entries written, {} removed, in {:.1f} ms", donor->second,
                      update.put_entries.size() + update.put_names.size(),
                      update.delete_entries.size() + update.delete_names.size(), ms_since(started));
        ++prepared.report.classes_updated;
        prepared.report.entries_changed += update.size();
        continue;
      }
      const uint32_t id = allocate_id();
      prepared.written.emplace(identity, PreparedPolicy::Written{id, compiled});
      if (auto status = write_class(id, *compiled, compile_ms, prepared.largest); !status) return fail(status);
      ++prepared.report.classes_written;
      prepared.report.entries_written += compiled->entries.size();
    }
  } catch (const std::exception& e) {
    return fail(make_error("writing the new classes: {}", e.what()));
  }
  prepared.policy = std::move(policy);
  return prepared;
}

Status PolicyApplier::abandon(const PreparedPolicy& prepared) {
  Status result = ok_status();
  auto keep_first_error = [&](Status status) {
    if (!status) orphans_ = true;  // the next cleanup walks the trie
    if (!status && result) result = std::move(status);
  };
  // Fresh classes go first: the room they free is what the reverted
  // classes' puts (before their deletes) may need.
  std::set<uint32_t> updated_ids;
  for (const auto& u : prepared.updated) updated_ids.insert(u.id);
  const policy::CompiledClass nothing;
  for (const auto& [identity, written] : prepared.written)
    if (!updated_ids.contains(written.id))
      keep_first_error(maps_.update_class(written.id, policy::plan_class_update(*written.compiled, nothing)));
  for (const auto& u : prepared.updated) {
    auto written = prepared.written.find(u.identity);
    if (written == prepared.written.end()) continue;
    // Back to what it held: the same ordered writes, the other way.
    keep_first_error(maps_.update_class(u.id, policy::plan_class_update(*written->second.compiled, *u.before)));
  }
  return result;
}

Result<CleanupPlan> PolicyApplier::commit(PreparedPolicy prepared, SandboxRegistry& registry) {
  auto refuse = [&](Error error) -> Result<CleanupPlan> {
    if (auto undone = abandon(prepared); !undone)
      spdlog::error("taking back a refused reload's writes: {}", undone.error().describe());
    return error;
  };
  std::map<std::string, ClassRecord> next_table;
  for (auto& [identity, written] : prepared.written)
    next_table.emplace(identity, ClassRecord{written.id, written.compiled});
  for (const auto& [identity, id] : prepared.reused) {
    auto it = classes_.find(identity);
    if (it == classes_.end()) return refuse(make_error("class {} vanished during the reload", id));
    next_table.emplace(identity, it->second);
  }
  std::unordered_map<std::string, uint32_t> next_id_by_key;
  for (const auto& [key, identity] : prepared.identity_by_key)
    next_id_by_key.emplace(key,
                           identity.empty() ? static_cast<uint32_t>(AGENTD_CLASS_EMPTY) : next_table.at(identity).id);

  // Every sandbox's class under the new policy; those of a key that appeared
  // since the prepare are compiled now (a handful at most).
  std::map<uint32_t, uint32_t> class_by_slot;
  for (const auto& [slot, sandbox] : registry.all()) {
    auto prepared_key = prepared.key_by_agent.find(sandbox.agent.str());
    std::string key = prepared_key != prepared.key_by_agent.end()
                          ? prepared_key->second
                          : policy::class_key_for(*prepared.policy, sandbox.agent);
    if (auto known = next_id_by_key.find(key); known != next_id_by_key.end()) {
      class_by_slot[slot] = known->second;
      continue;
    }
    auto compiled = policy::compile_for_agent(*prepared.policy, sandbox.agent);
    if (!compiled) return refuse(make_error("{}: {}", sandbox.agent.str(), compiled.error().describe()));
    uint32_t id = AGENTD_CLASS_EMPTY;
    if (!compiled->empty()) {
      std::string identity = identity_of(*compiled);
      if (auto it = next_table.find(identity); it != next_table.end()) {
        id = it->second.id;
      } else {
        id = allocate_id();
        auto shared = std::make_shared<const policy::CompiledClass>(std::move(*compiled));
        prepared.written.emplace(identity, PreparedPolicy::Written{id, shared});
        if (auto status = write_class(id, *shared, 0, prepared.largest); !status) return refuse(status.error());
        ++prepared.report.classes_written;
        prepared.report.entries_written += shared->entries.size();
        next_table.emplace(identity, ClassRecord{id, shared});
      }
    }
    next_id_by_key.emplace(std::move(key), id);
    class_by_slot[slot] = id;
  }

  // The switch: one write per sandbox whose state changes. What the kernel
  // holds is read in one batch (this runs on the loop: at 3,000 sandboxes a
  // read each held it 8-9 ms); unreadable, every sandbox is written.
  const uint32_t slots = registry.all().empty() ? 0 : registry.all().rbegin()->first + 1;
  const auto states = maps_.all_states(slots);
  for (auto& [slot, sandbox] : registry.all()) {
    const uint32_t id = class_by_slot[slot];
    const uint32_t refusal = refusal_flags_in(*prepared.policy, sandbox.agent);
    if (states && sandbox.class_id == id && sandbox.refusal_flags == refusal) {
      const agentd_sandbox_state& current = (*states)[slot];
      if (current.class_id == id && (current.flags & AGENTD_SANDBOX_ACTIVE) &&
          (current.flags & AGENTD_SANDBOX_REFUSE_CONNREFUSED) == refusal)
        continue;
    }
    Sandbox next_sandbox = sandbox;
    next_sandbox.class_id = id;
    next_sandbox.refusal_flags = refusal;
    if (auto status = maps_.set_state(slot, active_state(next_sandbox)); !status)
      return status.error();  // the same generation
    sandbox.class_id = id;
    sandbox.refusal_flags = refusal;
    ++prepared.report.sandboxes_switched;
  }

  CleanupPlan plan;
  plan.below = next_id_;
  for (const auto& [identity, record] : next_table) plan.live.insert(record.id);
  // Only when a class of the old table goes out of use, or a failed
  // removal may have left entries behind.
  plan.needed = orphans_.exchange(false);
  for (const auto& [identity, record] : classes_) plan.needed = plan.needed || !plan.live.contains(record.id);
  if (prepared.largest.entries >= largest_write_.entries) largest_write_ = prepared.largest;
  last_report_ = prepared.report;
  struct Retired {
    std::map<std::string, ClassRecord> classes;
    std::shared_ptr<const policy::PolicySet> policy;
  };
  plan.retired = std::make_shared<Retired>(Retired{std::move(classes_), std::move(policy_)});
  classes_ = std::move(next_table);
  id_by_key_ = std::move(next_id_by_key);
  tcp_ports_by_key_.clear();
  policy_ = std::move(prepared.policy);
  return plan;
}

Result<size_t> PolicyApplier::cleanup(CleanupPlan& plan) {
  plan.retired.reset();
  if (!plan.needed) return size_t{0};
  return maps_.delete_unused_classes(plan.live, plan.below);
}

Result<ApplyReport> PolicyApplier::apply(std::shared_ptr<const policy::PolicySet> policy, SandboxRegistry& registry) {
  std::vector<policy::AgentName> agents;
  std::map<std::string, uint32_t> class_of;
  for (const auto& [slot, sandbox] : registry.all()) {
    agents.push_back(sandbox.agent);
    class_of[sandbox.agent.str()] = sandbox.class_id;
  }
  auto prepared = prepare(std::move(policy), agents, known_classes(), class_of);
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
  // A sandbox of a class that exists costs a lookup, not a compile.
  std::string key = policy::class_key_for(*policy_, agent);
  if (auto it = id_by_key_.find(key); it != id_by_key_.end()) return it->second;
  const auto started = std::chrono::steady_clock::now();
  auto compiled = policy::compile_for_agent(*policy_, agent);
  if (!compiled) return make_error("{}: {}", agent.str(), compiled.error().describe());
  const double ms = ms_since(started);
  uint32_t id = AGENTD_CLASS_EMPTY;
  if (!compiled->empty()) {
    std::string identity = identity_of(*compiled);
    if (auto it = classes_.find(identity); it != classes_.end()) {
      id = it->second.id;
    } else {
      id = allocate_id();
      if (auto status = write_class(id, *compiled, ms, largest_write_); !status) {
        // What was written of it goes again (or, failing that, at the next cleanup).
        if (!maps_.update_class(id, policy::plan_class_update(*compiled, policy::CompiledClass{}))) orphans_ = true;
        return status.error();
      }
      classes_.emplace(identity, ClassRecord{id, std::make_shared<const policy::CompiledClass>(std::move(*compiled))});
    }
  }
  id_by_key_.emplace(std::move(key), id);
  return id;
}

std::optional<uint32_t> PolicyApplier::known_class(const policy::AgentName& agent) const {
  if (!policy_) return static_cast<uint32_t>(AGENTD_CLASS_EMPTY);
  auto it = id_by_key_.find(policy::class_key_for(*policy_, agent));
  if (it == id_by_key_.end()) return std::nullopt;
  return it->second;
}

Result<PolicyApplier::CompiledForAgent> PolicyApplier::compile_class(std::shared_ptr<const policy::PolicySet> policy,
                                                                     const policy::AgentName& agent) {
  CompiledForAgent out;
  out.key = policy::class_key_for(*policy, agent);
  const auto started = std::chrono::steady_clock::now();
  auto compiled = policy::compile_for_agent(*policy, agent);
  if (!compiled) return make_error("{}: {}", agent.str(), compiled.error().describe());
  const double compile_ms = ms_since(started);
  out.policy = std::move(policy);
  if (compiled->empty()) return out;
  out.identity = identity_of(*compiled);
  out.compiled = std::make_shared<const policy::CompiledClass>(std::move(*compiled));
  out.id = allocate_id();
  if (auto status = write_class(out.id, *out.compiled, compile_ms, out.write); !status) {
    if (auto undone = discard_compiled(out); !undone)
      spdlog::error("removing a class that failed to write: {}", undone.error().describe());
    return status.error();
  }
  return out;
}

std::optional<PolicyApplier::CompiledForAgent> PolicyApplier::take_compiled(CompiledForAgent compiled) {
  // Written for a policy that a reload has replaced meanwhile: the caller
  // compiles again under the new one.
  if (compiled.policy != policy_) return compiled;
  if (id_by_key_.contains(compiled.key)) return compiled;  // another compile of the key came first
  if (compiled.identity.empty()) {
    id_by_key_.emplace(compiled.key, AGENTD_CLASS_EMPTY);
    return std::nullopt;
  }
  if (auto same = classes_.find(compiled.identity); same != classes_.end()) {
    id_by_key_.emplace(compiled.key, same->second.id);  // the same rules under another key
    return compiled;
  }
  if (compiled.write.entries >= largest_write_.entries) largest_write_ = compiled.write;
  classes_.emplace(compiled.identity, ClassRecord{compiled.id, compiled.compiled});
  id_by_key_.emplace(compiled.key, compiled.id);
  return std::nullopt;
}

Status PolicyApplier::discard_compiled(const CompiledForAgent& compiled) {
  if (!compiled.compiled || compiled.id == AGENTD_CLASS_EMPTY) return ok_status();
  auto status = maps_.update_class(compiled.id, policy::plan_class_update(*compiled.compiled, policy::CompiledClass{}));
  if (!status) orphans_ = true;
  return status;
}

const policy::TcpPorts& PolicyApplier::tcp_ports_for(const policy::AgentName& agent) {
  static const policy::TcpPorts none;
  if (!policy_) return none;
  std::string key = policy::class_key_for(*policy_, agent);
  auto it = tcp_ports_by_key_.find(key);
  if (it == tcp_ports_by_key_.end())
    it = tcp_ports_by_key_.emplace(std::move(key), policy::sandbox_tcp_ports(*policy_, agent)).first;
  return it->second;
}

const policy::CompiledClass* PolicyApplier::compiled(uint32_t class_id) const {
  for (const auto& [identity, record] : classes_)
    if (record.id == class_id) return record.compiled.get();
  return nullptr;
}

}  // namespace agentd::daemon
