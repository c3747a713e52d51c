// A sandbox's end: retired when `agentctl run`'s last process in it exits,
// when an adopted cgroup disappears, or on `agentctl sandbox remove`. What
// it held per slot is released, so a host that runs one sandbox per task
// never runs out of slots and the slot's next sandbox starts clean.
#include <spdlog/spdlog.h>

#include "agentd/common/safe_text.hpp"
#include "agentd/daemon/daemon.hpp"
#include "agentd/daemon/open_files.hpp"
#include "agentd/daemon/sandbox_retirement.hpp"
#include "agentd/policy/sandbox_section.hpp"
#include "agentd/sandbox/cgroup.hpp"

namespace agentd::daemon {

namespace fs = std::filesystem;

Result<uint32_t> Daemon::claim_slot(const std::string& agent, bool outside_root) {
  // Not while restoring at start: what the kernel holds is restored whatever the limit.
  const bool running = events_ && dns_learning_ && approvals_;
  // An adopted cgroup outside the root holds a link per program as well.
  const uint64_t links = enforcer_ ? enforcer_->attachments().size() : 0;
  auto held = [&] {
    uint64_t n = 0;
    for (const auto& [slot, s] : registry_.all())
      n += descriptors_per_sandbox(s.adopted && !sandbox::path_is_within(s.cgroup, options_.cgroup_root) ? links : 0);
    return n;
  };
  const uint64_t budget = descriptor_budget(open_file_limit());
  const uint64_t wanted = descriptors_per_sandbox(outside_root ? links : 0);
  // held() walks every sandbox: once, and again only after a retirement.
  bool over = running && held() + wanted > budget;
  if (over) {
    retire_idle_sandboxes();
    over = held() + wanted > budget;
  }
  if (over)
    return make_error(
        "agentd's open file limit ({}) holds {} sandboxes, and all are taken: raise LimitNOFILE "
        "(the unit's is 131072) or ulimit -n, or remove sandboxes",
        open_file_limit(), sandboxes_within(open_file_limit()));
  auto slot = registry_.free_slot(agent);
  if (!slot && running) {
    // All taken: the sandboxes due for retirement go now, not at the
    // next sweep, and their slots are taken again.
    retire_idle_sandboxes();
    slot = registry_.free_slot(agent);
  }
  if (!slot || registry_.generation(*slot) == 0) return slot;
  const std::string previous = registry_.previous_agent(*slot);
  if (previous == agent) return slot;
  // Every slot has been used: the uid agentd gives a sandbox whose policy
  // names no user is the slot's, and files that uid left where others can
  // reach them (/tmp, outside Landlock's paths) are now the new sandbox's.
  spdlog::warn(
      "slot {} passes to {} from {}: all {} slots have been used; a sandbox without sandbox.user runs as "
      "the slot's uid, which may own files the previous one left (give sandboxes a filesystem: "
      "section, or a wider --sandbox-uids and --max-sandboxes)",
      *slot, agent, previous.empty() ? "a sandbox of an earlier agentd" : previous, registry_.max_slots());
  return slot;
}

Status Daemon::retire_sandbox(uint32_t slot, const std::string& why) {
  const Sandbox* found = registry_.find_slot(slot);
  if (!found) return make_error("no sandbox in slot {}", slot);
  std::error_code ec;
  if (!found->adopted) {
    // Removed first: once the cgroup is gone no command can move in, and
    // while a process remains the removal fails and the sandbox stays whole.
    if (fs::exists(found->cgroup, ec))
      if (auto st = sandbox::remove_cgroup_tree(found->cgroup); !st) return st;
  }
  drain_events();  // its last records still name it
  if (auto st = lifecycle_->retire(slot, why); !st) return st;
  if (populated_watch_) populated_watch_->forget(slot);
  return ok_status();
}

void Daemon::retire_idle_sandboxes() {
  const auto now = std::chrono::steady_clock::now();
  const auto* policy = applier_->policy();
  std::vector<std::pair<uint32_t, std::string>> due;
  if (populated_watch_) populated_watch_->drain();  // notices the loop has not taken yet
  for (const auto& [slot, s] : registry_.all()) {
    RetirementView view;
    view.adopted = s.adopted;
    view.since_handed_out = now - s.handed_out;
    // Kept from the kernel's notices (sandbox/populated_watch.hpp): a
    // sweep reads only the cgroups that changed. Nothing when the cgroup
    // is gone, or another took its path (a container restarted under its
    // old path has a new one, which the kernel does not know as this
    // sandbox).
    auto populated = sandbox_populated(s);
    if (!populated) continue;  // unreadable now: judged again next time
    view.populated = *populated;
    auto why = retirement_reason(view, options_.retire_grace);
    if (!why) continue;
    // Merging the profile costs a pass over the tenant's rules: asked only
    // of a sandbox that would go.
    view.keep = policy && policy::sandbox_kept(*policy, s.agent);
    if ((why = retirement_reason(view, options_.retire_grace))) due.emplace_back(slot, *why);
  }
  for (const auto& [slot, why] : due)
    if (auto st = retire_sandbox(slot, why); !st)
      spdlog::warn("sandbox in slot {} not retired ({}): {}", slot, why, st.error().describe());
}

Result<nlohmann::json> Daemon::remove_sandbox(const std::string& agent_text) {
  auto agent = policy::parse_agent_name(agent_text);
  if (!agent) return agent.error();
  const Sandbox* s = registry_.find_agent(agent->str());
  if (!s) return make_error("agent {} has no sandbox", agent->str());
  const uint32_t slot = s->slot;
  if (!s->adopted) {
    auto populated = sandbox::cgroup_populated(s->cgroup);
    if (populated && *populated)
      return make_error("sandbox {} still runs processes (in {}): end them first, or let it retire when they exit",
                        agent->str(), terminal_text(s->cgroup.string()));
  }
  nlohmann::json result = sandbox_to_json(*s);
  if (auto st = retire_sandbox(slot, "removed by agentctl sandbox remove"); !st) return st.error();
  return result;
}

}  // namespace agentd::daemon
