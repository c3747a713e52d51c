// The fleet's grants in ApprovalService (README, "Fleet"): a team or tenant
// grant made on any host opens on every host. The host that made it
// publishes it (its key in etcd names the host and its id there); every
// other host mirrors it under an id of its own, judged as a grant made
// there would be. A key that leaves etcd ends the grant everywhere, and
// any host's revoke deletes the key. Each host also ends a grant at its
// deadline by itself, so expiry holds on a host cut off from etcd.
#include <spdlog/spdlog.h>

#include "agentd/approvals/grant_review.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/daemon/approval_service.hpp"
#include "agentd/fleet/grant_record.hpp"

namespace agentd::daemon {

using nlohmann::json;

void ApprovalService::join_fleet(FleetLink link) {
  fleet_ = std::move(link);
  for (const auto& [id, grant] : book_.grants())
    if (own(grant)) fleet_restored_.insert(id);
  for (const auto& [id, request] : book_.requests()) offer_to_fleet(request);
}

void ApprovalService::offer_to_fleet(const approvals::Request& request) {
  if (!fleet_ || !fleet_->offer) return;
  const bool pending = request.state == approvals::RequestState::pending;
  if (pending && fleet_offered_.insert(request.id).second) fleet_->offer(request);
  if (!pending && fleet_offered_.erase(request.id)) fleet_->take_back(request.id);
}

Result<json> ApprovalService::answer_from_fleet(const api::ApprovalsAnswerRequest& request, const std::string& by) {
  approvals::Identity who;
  who.uid = approvals::kFleetUid;
  who.user = "fleet: " + safe_text(by.substr(0, 200));
  return answer_checked(request, who);
}

void ApprovalService::claim_for_fleet(approvals::Grant& grant) {
  if (!fleet_ || !fleet::is_fleet_scope(grant.scope)) return;
  grant.origin = approvals::FleetOrigin{fleet_->host, grant.id};
  book_.set_origin(grant.id, *grant.origin);
}

std::string ApprovalService::fleet_refusal(const approvals::Grant& grant) const {
  const auto* policy = applier_.policy();
  if (!policy) return "no policy is loaded yet";
  std::vector<policy::AgentName> agents;
  for (const auto& [slot, sandbox] : registry_.all()) agents.push_back(sandbox.agent);
  std::string why;
  approvals::GrantJudge judge(*policy);
  for (const auto& agent : agents)
    if (grant.covers(agent) && judge.denies(grant, agent, &why))
      return fmt::format("this host's policy denies it: {}", why);
  if (auto overflow = name_ports_overflow(grant); !overflow.empty()) return overflow;
  return grant_budget_.refuse(grant, book_.grants(), grant_sandboxes());
}

ApprovalService::FleetSync ApprovalService::sync_fleet_grants(const std::vector<approvals::Grant>& fleet) {
  FleetSync result;
  if (!fleet_) return result;
  const auto now = approvals::Clock::now();
  std::set<std::string> present;
  for (const auto& record : fleet)
    if (record.origin) present.insert(record.origin->str());

  // What left etcd ends here: a mirror at once; a grant of this host's
  // once etcd has held it (or, restored at start, when etcd lacks it):
  // one just made may not be there yet.
  std::vector<uint64_t> gone;
  for (const auto& [id, grant] : book_.grants()) {
    if (!grant.origin) continue;
    if (present.contains(grant.origin->str())) {
      if (own(grant)) fleet_seen_.insert(id);
      continue;
    }
    if (!own(grant) || fleet_seen_.contains(id) || fleet_restored_.contains(id)) gone.push_back(id);
  }
  fleet_restored_.clear();
  for (auto it = fleet_withdrawn_.begin(); it != fleet_withdrawn_.end();)
    it = present.contains(*it) ? std::next(it) : fleet_withdrawn_.erase(it);
  for (uint64_t id : gone) {
    auto grant = book_.revoke(id);
    if (!grant) continue;
    grant_ended(*grant, "revoked", "the fleet (its key left etcd)", false);
    spdlog::info("approvals: grant {} ({} {}) revoked: the fleet no longer holds it", grant->id, grant->origin->str(),
                 terminal_text(grant->subject));
    ++result.ended;
  }

  for (const auto& record : fleet) {
    if (!record.origin) continue;
    const std::string origin = record.origin->str();
    const bool expired = record.expires_at && *record.expires_at <= now;
    if (record.origin->host == fleet_->host) {
      // A key of this host's for a grant that ended here (while etcd was
      // away, say): taken out again.
      if (!book_.grant_from(*record.origin)) fleet_->withdraw(*record.origin);
      continue;
    }
    if (book_.grant_from(*record.origin) || fleet_withdrawn_.contains(origin)) continue;
    if (expired) {
      fleet_->withdraw(*record.origin);  // its host may be gone: any host tidies it
      continue;
    }
    if (auto why = fleet_refusal(record); !why.empty()) {
      if (fleet_refused_[origin] != why)
        spdlog::warn("approvals: fleet grant {} ({} -> {}) not mirrored: {}", origin, terminal_text(record.subject),
                     terminal_text(record.is_name() ? record.host : record.address), why);
      fleet_refused_[origin] = why;
      continue;
    }
    fleet_refused_.erase(origin);
    const approvals::Grant& g = book_.adopt(record);
    if (auto st = store_->save_grant(g); !st) spdlog::error("saving fleet grant {}: {}", origin, st.error().describe());
    audit_grant_made(g, now, fmt::format("fleet: {} ({})", origin, g.created_by));
    broadcast({{"event", "grant_made"}, {"grant", approvals::grant_to_json(g)}}, g.tenant());
    spdlog::info("approvals: fleet grant {} mirrored as grant {} ({} -> {})", origin, g.id, terminal_text(g.subject),
                 terminal_text(g.is_name() ? g.host : g.address));
    ++result.adopted;
  }
  // Refusals of keys that left etcd are history.
  for (auto it = fleet_refused_.begin(); it != fleet_refused_.end();)
    it = present.contains(it->first) ? std::next(it) : fleet_refused_.erase(it);

  fleet_adopted_ += result.adopted;
  fleet_ended_ += result.ended;
  if (result.adopted + result.ended == 0) return result;
  sync_grants();
  if (name_grants_changed_) name_grants_changed_();
  if (result.adopted) settle_pending("a fleet grant");
  return result;
}

void ApprovalService::fleet_records_refused(std::vector<std::string> errors) {
  if (errors != fleet_bad_records_)
    for (const auto& error : errors) spdlog::warn("approvals: not a fleet grant, ignored: {}", error);
  fleet_bad_records_ = std::move(errors);
}

}  // namespace agentd::daemon

namespace agentd::daemon {

json ApprovalService::fleet_status() const {
  if (!fleet_) return nullptr;
  size_t published = 0, mirrored = 0;
  for (const auto& [id, grant] : book_.grants()) {
    if (!grant.origin) continue;
    ++(own(grant) ? published : mirrored);
  }
  json refused = json::object();
  for (const auto& [origin, why] : fleet_refused_) refused[origin] = why;
  return {{"published", published},
          {"mirrored", mirrored},
          {"mirrored_total", fleet_adopted_},
          {"ended_by_fleet", fleet_ended_},
          {"not_mirrored", std::move(refused)},
          {"bad_records", fleet_bad_records_}};
}

}  // namespace agentd::daemon
