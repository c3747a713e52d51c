#include "agentd/daemon/sandbox_lifecycle.hpp"

#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "agentd/common/safe_text.hpp"
#include "agentd/sandbox/cgroup.hpp"

namespace agentd::daemon {

Status Steps::run(std::string what, const std::function<Status()>& step, std::function<Status()> undo) {
  if (auto st = step(); !st) {
    rollback();
    return st;
  }
  if (undo) undo_.emplace_back(std::move(what), std::move(undo));
  return ok_status();
}

void Steps::rollback() {
  while (!undo_.empty()) {
    auto [what, undo] = std::move(undo_.back());
    undo_.pop_back();
    if (auto st = undo(); !st) spdlog::error("taking back {}: {}", what, st.error().describe());
  }
}

bool SandboxLifecycle::outside_root(const Sandbox& sandbox) const {
  return sandbox.adopted && !sandbox::path_is_within(sandbox.cgroup, cgroup_root_);
}

std::vector<store::AdoptedRow> SandboxLifecycle::adopted_rows(const Sandbox* adding) const {
  std::vector<store::AdoptedRow> rows;
  for (const auto& [slot, s] : registry_.all())
    if (s.adopted) rows.push_back({s.agent.str(), s.cgroup.string()});
  if (adding) rows.push_back({adding->agent.str(), adding->cgroup.string()});
  return rows;
}

Status SandboxLifecycle::bring_in(Steps& steps, Sandbox& s, bool serve, bool& published) {
  const uint32_t slot = s.slot;
  s.generation = next_generation(registry_.generation(slot));
  auto before = maps_.state(slot);
  if (!before) return before.error();
  const Sandbox in = s;  // what the undos take back
  // 1. The new generation first, so the slot's previous holder's sockets
  // count nowhere once its counters are zeroed.
  auto generation = steps.run(
      "the slot's new generation", [&] { return maps_.set_state(slot, retired_state(in)); },
      [this, in, was = *before, &published]() -> Status {
        // Once the cgroup pointed at the slot a socket may carry the new
        // generation: the slot keeps it (retired), never handed out again.
        if (published) {
          registry_.set_generation(in.slot, in.generation);
          return ok_status();
        }
        return maps_.set_state(in.slot, was);
      });
  if (!generation) return generation;
  // 2. Not undone: a free slot's counters are nobody's.
  if (auto st = steps.run("the slot's counters", [&] { return maps_.reset_counters(slot); }); !st) return st;
  if (serve) {
    // 3. Its DNS is served before the kernel sends its queries here.
    uint16_t port = 0;
    auto sockets = steps.run(
        "the DNS proxy's sockets",
        [&] {
          port = side_.open_dns(slot);
          return ok_status();
        },
        [this, slot] {
          side_.close_dns(slot);
          return ok_status();
        });
    if (!sockets) return sockets;
    if (auto st = steps.run(
            "the slot's IPv6 DNS port", [&] { return maps_.set_dns6_port(slot, port); },
            [this, slot] { return maps_.set_dns6_port(slot, 0); });
        !st)
      return st;
    // 4. The state before the cgroup -> slot entry: the moment the kernel
    // can see the sandbox, its rules are in force.
    if (auto st = steps.run(
            "the slot's state", [&] { return maps_.set_state(slot, active_state(in)); },
            [this, in] { return maps_.set_state(in.slot, retired_state(in)); });
        !st)
      return st;
  }
  // 5. The kernel sees the sandbox.
  auto entry = steps.run(
      "the cgroup -> slot entry",
      [&] {
        auto st = maps_.set_cgroup_slot(in.cgroup_id, slot);
        published = published || st.ok();
        return st;
      },
      [this, in] { return maps_.delete_cgroup(in.cgroup_id); });
  if (!entry) return entry;
  // 6. A cgroup outside the root gets the programs the root's links give
  // the others.
  if (outside_root(in))
    return steps.run(
        "the cgroup's links", [&] { return side_.attach_links(in); }, [this, in] { return side_.detach_links(in); });
  return ok_status();
}

Result<Sandbox> SandboxLifecycle::create(Sandbox s) {
  bool published = false;
  Steps steps;  // after `published`: undone before it goes
  if (auto st = bring_in(steps, s, true, published); !st) return st.error();
  // 7. Restored by the next agentd from here.
  if (s.adopted)
    if (auto st = steps.run(
            "the adopted sandboxes' rows", [&] { return side_.store_adopted(adopted_rows(&s)); },
            [this] { return side_.store_adopted(adopted_rows()); });
        !st)
      return st.error();
  steps.commit();
  nlohmann::json detail = {{"slot", s.slot}, {"generation", s.generation}};
  if (s.adopted) detail["cgroup"] = s.cgroup.string();
  side_.announce(s, s.adopted ? "adopted" : "created", detail);
  registry_.put(s);
  side_.sync_grants_of(s);  // team and tenant grants cover a new sandbox too
  return s;
}

Status SandboxLifecycle::restore(std::vector<Sandbox> found, const ClaimSlot& claim) {
  auto in_map = maps_.cgroup_slots();
  if (!in_map) return in_map.error();
  std::map<uint64_t, uint32_t> slot_of(in_map->begin(), in_map->end());
  // A sandbox the kernel still maps keeps its slot: none goes to another
  // sandbox restored before it (its sockets and learned addresses are there).
  std::set<uint32_t> mapped;
  for (const auto& [cgroup_id, slot] : slot_of) mapped.insert(slot);
  registry_.reserve(mapped);

  for (auto& s : found) {
    bool published = false;
    Steps steps;
    if (auto it = slot_of.find(s.cgroup_id); it != slot_of.end() && !registry_.find_slot(it->second)) {
      s.slot = it->second;
      if (auto state = maps_.state(s.slot)) {
        s.class_id = state->class_id;
        s.refusal_flags = state->flags & AGENTD_SANDBOX_REFUSE_CONNREFUSED;
        s.generation = generation_of(*state);  // its sockets carry it
      }
      slot_of.erase(it);
      if (outside_root(s))
        if (auto st = side_.attach_links(s); !st) return st;
    } else {
      auto slot = claim(s.agent.str());
      if (!slot) return slot.error();
      s.slot = *slot;
      // A fresh slot may hold a departed sandbox's state: cleared before
      // the cgroup points at it (inactive denies everything until the
      // policy is applied).
      if (auto st = bring_in(steps, s, false, published); !st) return st;
    }
    steps.commit();
    spdlog::info("sandbox {} (slot {}) at {}", s.agent.str(), s.slot, s.cgroup.string());
    registry_.put(std::move(s));
  }
  // What the kernel still maps but no longer exists: the entry, then the
  // slot's state (as a retirement), unless a restored sandbox holds it.
  for (const auto& [cgroup_id, slot] : slot_of) {
    if (auto st = maps_.delete_cgroup(cgroup_id); !st) return st;
    if (registry_.find_slot(slot)) continue;
    Sandbox departed;
    departed.slot = slot;
    if (auto state = maps_.state(slot)) departed.generation = generation_of(*state);
    if (auto st = maps_.set_state(slot, retired_state(departed)); !st) return st;
  }
  registry_.reserve({});
  // What departed slots left in the kernel's rate limits (their learned
  // addresses go once the DNS side is up: forget_departed).
  if (auto st = maps_.forget_rate_limits([&](uint32_t slot) { return !registry_.find_slot(slot); }); !st)
    spdlog::warn("forgetting departed sandboxes' rate limits: {}", st.error().describe());
  return ok_status();
}

Status SandboxLifecycle::retire(uint32_t slot, const std::string& why) {
  const Sandbox* found = registry_.find_slot(slot);
  if (!found) return make_error("no sandbox in slot {}", slot);
  const Sandbox gone = *found;
  auto before = maps_.state(slot);
  if (!before) return before.error();
  Steps steps;
  // The kernel first: from here its sockets belong to no sandbox (their
  // generation is no longer the slot's), whoever gets the slot next.
  if (auto st = steps.run(
          "the cgroup -> slot entry", [&] { return maps_.delete_cgroup(gone.cgroup_id); },
          [this, gone] { return maps_.set_cgroup_slot(gone.cgroup_id, gone.slot); });
      !st)
    return st;
  if (auto st = steps.run(
          "the slot's state", [&] { return maps_.set_state(slot, retired_state(gone)); },
          [this, slot, was = *before] { return maps_.set_state(slot, was); });
      !st)
    return st;
  steps.commit();
  // An adopted cgroup outside the root loses its programs last: a failure
  // above leaves it enforced, as it was.
  if (outside_root(gone))
    if (auto st = side_.detach_links(gone); !st)
      spdlog::warn("sandbox {}: detaching from {}: {}", gone.agent.str(), terminal_text(gone.cgroup.string()),
                   st.error().describe());
  registry_.erase(slot);
  side_.close_dns(slot);
  if (auto st = maps_.set_dns6_port(slot, 0); !st)
    spdlog::warn("slot {}: clearing its IPv6 DNS port: {}", slot, st.error().describe());
  if (auto st = maps_.forget_rate_limits(slot); !st)
    spdlog::warn("slot {}: forgetting its rate limits: {}", slot, st.error().describe());
  side_.sync_grants_of(gone);  // its grant entries leave the kernel (the grants stay, by agent)
  if (gone.adopted)
    if (auto st = side_.store_adopted(adopted_rows()); !st)
      spdlog::error("saving the adopted sandboxes: {}", st.error().describe());
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - gone.created_at);
  side_.announce(gone, "retired",
                 {{"slot", slot}, {"generation", gone.generation}, {"why", why}, {"age_seconds", age.count()}});
  spdlog::info("sandbox {} (slot {}) retired: {}", gone.agent.str(), slot, why);
  return ok_status();
}

Status SandboxLifecycle::serve_dns(uint32_t slot) { return maps_.set_dns6_port(slot, side_.open_dns(slot)); }

}  // namespace agentd::daemon
