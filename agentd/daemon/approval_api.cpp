// The control API's approval methods and the watch subscription.
#include <fnmatch.h>

#include <spdlog/spdlog.h>

#include "agentd/api/params.hpp"
#include "agentd/api/protocol.hpp"
#include "agentd/approvals/grant_review.hpp"
#include "agentd/approvals/ocsf.hpp"
#include "agentd/common/duration.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/daemon/approval_service.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/names.hpp"
#include "agentd/policy/ports.hpp"

namespace agentd::daemon {
using approvals::Role;
using nlohmann::json;

namespace {

std::string tenant_of(const std::string& sandbox) { return sandbox.substr(0, sandbox.find('/')); }

constexpr uint64_t kMaxAuditRows = 100000;

// An operator's terms, every one checked before anything is looked up or
// changed: a wrong value is refused naming the field, never read as a
// default (their types were checked reading the request).
Result<approvals::Decision> decision_of(const api::GrantTerms& terms, bool allow) {
  approvals::Decision decision;
  decision.allow = allow;
  if (allow) {
    auto scope = approvals::parse_scope(terms.scope.value_or("agent"));
    if (!scope) return make_error("scope \"{}\" is not agent, team or tenant", terminal_text(*terms.scope));
    decision.scope = *scope;
    decision.permanent = terms.permanent;
    if (terms.ports) {
      auto ports = policy::parse_port_list(*terms.ports, approvals::kMaxNameGrantPorts);
      if (!ports) return make_error("ports: {}", terminal_text(ports.error().message));
      decision.ports = std::move(*ports);
    }
  } else if (terms.ports) {
    return make_error("ports: a deny takes no ports (it is about the request's destination)");
  }
  if (terms.duration) {
    auto duration = parse_duration(*terms.duration);
    if (!duration) return make_error("for: {}", terminal_text(duration.error().message));
    decision.duration = *duration;
  }
  if (decision.permanent && decision.duration) return make_error("give a time (for) or permanent, not both");
  return decision;
}

}  // namespace

std::optional<std::string> ApprovalService::refuse(const approvals::Identity& who,
                                                   const approvals::ControlMethod& method, const json& request) const {
  const auto needed = method.role;
  if (roles_.highest(who) < needed)
    return fmt::format("{} may not call {} (it needs the {} role)", who.str(), method.name,
                       approvals::role_name(needed));
  switch (method.tenants) {
    case approvals::MethodTenants::the_agents: {
      // An admin of some tenants makes sandboxes for those only.
      auto tenant_field = api::agent_tenant(request);
      if (!tenant_field) return tenant_field.error().describe();
      const std::string& tenant = *tenant_field;
      if (!may(who, needed, tenant))
        return fmt::format("{} is no {} of tenant {}", who.str(), approvals::role_name(needed), tenant);
      break;
    }
    case approvals::MethodTenants::every:
      // Reloading the policy of every tenant needs that role for every tenant.
      if (roles_.tenants_for(who, needed))
        return fmt::format("{} may not call {}: it needs an {} of every tenant", who.str(), method.name,
                           approvals::role_name(needed));
      break;
    case approvals::MethodTenants::the_callers:
      break;
  }
  return std::nullopt;
}

void ApprovalService::broadcast(const json& event, const std::string& tenant) {
  std::vector<Watcher> still;
  for (auto& w : watchers_) {
    if (!may(w.who, Role::viewer, tenant)) {
      still.push_back(std::move(w));
      continue;
    }
    if (w.reply.stream(event)) still.push_back(std::move(w));
  }
  watchers_ = std::move(still);
}

void ApprovalService::watch(const approvals::Identity& who, api::Reply reply) {
  json pending = json::array();
  for (const auto& [id, r] : book_.requests())
    if (r.state == approvals::RequestState::pending && may(who, Role::viewer, tenant_of(r.target.sandbox)))
      pending.push_back(approvals::request_to_json(r));
  const bool can_answer = roles_.highest(who) >= Role::approver;
  json folds = json::array();
  for (const auto& [name, fold] : folds_.all())
    if (may(who, Role::viewer, tenant_of(name))) folds.push_back(approvals::fold_to_json(fold, false));
  if (!reply.stream(
          api::ok_response({{"who", who.str()}, {"can_answer", can_answer}, {"pending", pending}, {"folds", folds}})))
    return;
  watchers_.push_back({std::move(reply), who});
  spdlog::info("approvals: {} watching ({} watchers)", who.str(), watchers_.size());
}

Result<json> ApprovalService::list_requests(const api::ApprovalsListRequest& request,
                                            const approvals::Identity& who) const {
  const std::string state = request.state.value_or("");
  if (!state.empty() && state != "all" && !approvals::parse_state(state))
    return make_error("state \"{}\" is not pending, approved, denied, expired or all", state);
  json list = json::array();
  for (const auto& [id, r] : book_.requests()) {
    if (!may(who, Role::viewer, tenant_of(r.target.sandbox))) continue;
    if (state.empty() ? r.state != approvals::RequestState::pending
                      : state != "all" && approvals::state_name(r.state) != state)
      continue;
    list.push_back(approvals::request_to_json(r));
  }
  return list;
}

// The fold entries ("N more destinations from this sandbox"); with
// "sandbox", that sandbox's fold expanded to the destinations it holds.
Result<json> ApprovalService::list_folds(const api::ApprovalsFoldsRequest& request,
                                         const approvals::Identity& who) const {
  if (const auto& sandbox = request.sandbox) {
    if (!may(who, Role::viewer, tenant_of(*sandbox)))
      return make_error("{} may not see requests of tenant {}", who.str(), tenant_of(*sandbox));
    const auto* fold = folds_.find(*sandbox);
    if (!fold)
      return make_error("no fold entry for sandbox \"{}\" (it is below its request caps)", safe_text(*sandbox));
    return approvals::fold_to_json(*fold, true);
  }
  json list = json::array();
  for (const auto& [name, fold] : folds_.all())
    if (may(who, Role::viewer, tenant_of(name))) list.push_back(approvals::fold_to_json(fold, false));
  return list;
}

Result<json> ApprovalService::answer(const api::ApprovalsAnswerRequest& request, const approvals::Identity& who) {
  // The terms first: a malformed answer is told so whatever its id.
  if (auto decision = decision_of(request.terms, request.allow); !decision) return decision.error();
  const approvals::Request* found = book_.request(request.id);
  if (!found) return make_error("no request {} (see agentctl approvals list)", request.id);
  const std::string tenant = tenant_of(found->target.sandbox);
  // Same words whether the request exists in another tenant or not at all
  // would hide it; an operator of another tenant learns only that it is not theirs.
  if (!may(who, Role::approver, tenant))
    return make_error("{} may not answer requests of tenant {} (role: {})", who.str(), tenant,
                      approvals::role_name(roles_.role_for(who, tenant)));
  return answer_checked(request, who);
}

Result<json> ApprovalService::answer_checked(const api::ApprovalsAnswerRequest& request,
                                             const approvals::Identity& who) {
  const bool allow = request.allow;
  const uint64_t id = request.id;
  auto decision = decision_of(request.terms, allow);
  if (!decision) return decision.error();
  const approvals::Request* found = book_.request(id);
  if (!found) return make_error("no request {} (see agentctl approvals list)", id);
  const std::string sandbox = found->target.sandbox;
  const std::string tenant = tenant_of(sandbox);
  const auto now = approvals::Clock::now();
  if (allow) {
    // The grant is checked against the tenant's share of the kernel's
    // grant entries before anything changes: refused, the request stays
    // pending, nothing is stored and nothing written.
    auto candidate = book_.grant_for(id, *decision, who.str(), now, settings_for(sandbox));
    if (!candidate) return candidate.error();
    if (auto why = name_ports_overflow(*candidate); !why.empty()) return make_error("not granted: {}", why);
    if (auto why = grant_budget_.refuse(*candidate, book_.grants(), grant_sandboxes()); !why.empty()) {
      ++grants_refused_over_limit_;
      spdlog::warn("approvals: request {} not granted to {}: {}", id, who.str(), why);
      return make_error("not granted: {}", why);
    }
  }
  auto answered = book_.decide(id, *decision, who.str(), now, settings_for(sandbox));
  if (!answered) return answered.error();
  if (answered->grant) claim_for_fleet(*answered->grant);
  const approvals::Request& r = answered->request;
  persist(r);
  audit({*r.answered_at,
         "decision",
         allow ? "approved" : "denied",
         who.str(),
         sandbox,
         r.target.address,
         r.host,
         r.target.port,
         r.target.protocol,
         {{"request_id", r.id}, {"answer", r.answer}, {"denials", r.count}}});
  siem(approvals::ocsf_decision(r, answered->grant));
  if (answered->grant) {
    const approvals::Grant& g = *answered->grant;
    if (auto st = store_->save_grant(g); !st) return make_error("saving the grant: {}", st.error().describe());
    audit_grant_made(g, g.created_at, who.str());
    if (g.origin) fleet_->publish(g);
    sync_grants();  // in force before the answer returns: the agent's next try succeeds
    // Addresses already learned through the name take the new ports now,
    // not at the next answer.
    if (g.is_name() && name_grants_changed_) name_grants_changed_();
  }
  spdlog::info("approvals: request {} ({}) answered by {}: {}", r.id, terminal_text(r.target.str()), who.str(),
               r.answer);
  json result = {{"request", approvals::request_to_json(r)}};
  if (answered->grant) result["grant"] = approvals::grant_to_json(*answered->grant);
  json event = result;
  event["event"] = "answered";
  broadcast(event, tenant);
  // A team or tenant grant may answer other agents' requests for the same
  // destination.
  if (answered->grant) settle_pending(fmt::format("grant {}", answered->grant->id));
  return result;
}

// An operator's grant made before anything was refused (or again after a
// revoke): a request made by the operator for the destination, answered
// at once, so that it goes through exactly what an approval does (the
// tenant's grant budget, the store, the audit trail, the kernel, settling
// other requests). A pending request for the same destination is the one
// answered. One address or one name: a range is a policy rule's job.
Result<json> ApprovalService::add_grant(const api::GrantsAddRequest& request, const approvals::Identity& who) {
  auto decision = decision_of(request.terms, true);
  if (!decision) return decision.error();
  auto agent = policy::parse_agent_name(request.agent);
  if (!agent) return make_error("agent: {}", terminal_text(agent.error().message));
  const std::string sandbox = agent->str(), tenant = agent->tenant;
  if (!may(who, Role::approver, tenant))
    return make_error("{} may not grant for tenant {} (role: {})", who.str(), tenant,
                      approvals::role_name(roles_.role_for(who, tenant)));
  const auto* policy = applier_.policy();
  if (!policy) return make_error("no policy is loaded yet");

  approvals::Denial wanted;
  std::string text = request.dest;
  // NAME:PORTS (a name grant on those ports only): the ports go into the
  // decision, the name is judged as a name alone.
  if (const auto colon = text.rfind(':'); colon != std::string::npos && text.find(':') == colon &&
                                          !policy::parse_cidr(text.substr(0, colon)) &&
                                          policy::parse_host_name(text.substr(0, colon))) {
    if (!decision->ports.empty()) return make_error("dest: give the ports once, in dest or in ports");
    auto ports = policy::parse_port_list(text.substr(colon + 1), approvals::kMaxNameGrantPorts);
    if (!ports) return make_error("dest: {}", terminal_text(ports.error().message));
    decision->ports = std::move(*ports);
    text.resize(colon);
  }
  auto dest = policy::parse_destination(text);
  if (!dest) {
    // No port: a name (its addresses open on every port, as a name grant
    // does), or an address without the port it needs.
    if (auto cidr = policy::parse_cidr(text)) {
      if (cidr->prefix != cidr->max_prefix())
        return make_error("dest: a grant opens one address or one name; for the range {} write a policy rule",
                          cidr->str());
      return make_error("dest: \"{}\" needs a port: ADDR:PORT[/udp], IPv6 as [ADDR]:PORT", terminal_text(text));
    }
    auto name = policy::parse_host_name(text);
    if (!name) return make_error("dest: {}", terminal_text(dest.error().message));
    const auto decided = policy::HostRules(*policy, *agent).decide(*name);
    if (decided.allowed) return make_error("{} may resolve {} already: {}", sandbox, *name, decided.explanation);
    if (decided.endpoint)
      return make_error("not granted: {} (an explicit deny wins over any grant)", decided.explanation);
    wanted.target = {sandbox, "", 0, approvals::kNameProtocol, *name};
    wanted.host = *name;
  } else {
    if (!dest->host.empty()) return make_error("dest: \"{}\" is a name and a port", terminal_text(text));
    if (!decision->ports.empty())
      return make_error("ports: an address grant is for the one port of its dest (ADDR:PORT)");
    auto decided = policy::explain(*policy, *agent, *dest);
    if (!decided) return decided.error();
    if (decided->allowed) return make_error("{} may reach {} already: {}", sandbox, dest->str(), decided->explanation);
    if (decided->action == AGENTD_ACTION_DENY)
      return make_error("not granted: {} (an explicit deny wins over any grant)", decided->explanation);
    policy::Cidr host;
    host.family = dest->family;
    host.addr = dest->addr;
    host.prefix = host.max_prefix();
    std::string address = host.str();
    if (auto slash = address.find('/'); slash != std::string::npos) address.resize(slash);
    wanted.target = {sandbox, address, dest->port, dest->proto_bit == AGENTD_PROTO_UDP ? "udp" : "tcp", ""};
  }
  wanted.process = {0, who.uid, "agentctl grants add", ""};
  wanted.time = approvals::Clock::now();
  // Checked before noting anything: a refusal changes no request.
  if (const auto* silent = book_.silenced(wanted.target, wanted.time))
    return make_error("{} was denied by request {} ({}): agentctl approvals reopen {} takes that back",
                      terminal_text(wanted.target.str()), silent->id, terminal_text(silent->answered_by), silent->id);
  auto noted = book_.note_denial(wanted, settings_for(sandbox));
  if (!noted.request)
    return make_error("tenant {} takes no requests (approvals mode: off): write a policy rule", tenant);
  const uint64_t id = noted.request->id;
  if (noted.what == approvals::Book::Noted::created) {
    persist(*noted.request);
    audit({wanted.time,
           "request",
           "pending",
           who.str(),
           sandbox,
           wanted.target.address,
           wanted.host,
           wanted.target.port,
           wanted.target.protocol,
           {{"request_id", id}, {"by", "grants add"}}});
  }
  api::ApprovalsAnswerRequest answer_request{id, true, request.terms};
  // The ports NAME:PORTS named, answered as approvals approve --ports.
  if (!decision->ports.empty()) answer_request.terms.ports = policy::port_list_text(decision->ports);
  return answer(answer_request, who);
}

std::string ApprovalService::name_ports_overflow(const approvals::Grant& candidate) const {
  if (!candidate.is_name() || candidate.ports.empty()) return "";
  std::vector<policy::PortRange> ports = candidate.ports;
  for (const auto& [id, g] : book_.grants()) {
    if (!g.is_name() || g.host != candidate.host || g.tenant() != candidate.tenant()) continue;
    if (g.ports.empty()) return "";  // one of them opens every port: the union is every port
    ports.insert(ports.end(), g.ports.begin(), g.ports.end());
  }
  const size_t ranges = policy::merge_port_ranges(std::move(ports)).size();
  if (ranges <= AGENTD_MAX_PORT_RANGES) return "";
  return fmt::format(
      "with tenant {}'s other grants of {} it would open {} port ranges, more than one kernel entry "
      "holds ({}): widen a range, or revoke one of them",
      candidate.tenant(), candidate.host, ranges, AGENTD_MAX_PORT_RANGES);
}

std::vector<approvals::Grant> ApprovalService::grants_visible(const approvals::Identity& who) const {
  std::vector<approvals::Grant> visible;
  for (const auto& [id, g] : book_.grants())
    if (may(who, Role::viewer, g.tenant())) visible.push_back(g);
  return visible;
}

Result<json> ApprovalService::list_grants(const approvals::Identity& who) const {
  json list = json::array();
  for (const auto& [id, g] : book_.grants())
    if (may(who, Role::viewer, g.tenant())) list.push_back(approvals::grant_to_json(g));
  return list;
}

Result<json> ApprovalService::revoke(const api::GrantsRevokeRequest& request, const approvals::Identity& who) {
  const uint64_t id = request.id;
  auto it = book_.grants().find(id);
  if (it == book_.grants().end()) return make_error("no grant {} (see agentctl grants list)", id);
  if (!may(who, Role::approver, it->second.tenant()))
    return make_error("{} may not revoke grants of tenant {}", who.str(), it->second.tenant());
  auto grant = book_.revoke(id);
  if (!grant) return grant.error();
  sync_grants();
  grant_ended(*grant, "revoked", who.str());
  spdlog::info("approvals: grant {} revoked by {}", grant->id, who.str());
  return approvals::grant_to_json(*grant);
}

// An operator takes a decision back: the request is pending again and
// every watcher is asked anew; an approval's grant ends first (revoked,
// as grants revoke would, audited), so nothing stays open meanwhile.
Result<json> ApprovalService::reopen(const api::ApprovalsReopenRequest& request, const approvals::Identity& who) {
  const uint64_t id = request.id;
  const approvals::Request* found = book_.request(id);
  if (!found) return make_error("no request {} (see agentctl approvals list --state all)", id);
  const std::string sandbox = found->target.sandbox, tenant = tenant_of(sandbox);
  if (!may(who, Role::approver, tenant))
    return make_error("{} may not reopen requests of tenant {} (role: {})", who.str(), tenant,
                      approvals::role_name(roles_.role_for(who, tenant)));
  const auto now = approvals::Clock::now();
  const std::string was = found->answer.empty() ? approvals::state_name(found->state) : found->answer;
  // A question only while nothing else answers it: not when a rule or
  // another grant opens it now (its own grant aside), nor when a deny
  // rule decides it (a deny is no question).
  if (const auto* policy = applier_.policy()) {
    approvals::Grant as_grant;
    as_grant.subject = sandbox;
    as_grant.address = found->target.address;
    as_grant.host = found->target.is_name() ? found->target.name : "";
    as_grant.port = found->target.port;
    as_grant.protocol = found->target.protocol;
    as_grant.inbound = found->target.inbound;
    std::string why;
    if (auto agent = policy::parse_agent_name(sandbox);
        agent && approvals::GrantJudge(*policy).denies(as_grant, *agent, &why))
      return make_error("request {}: nothing to reopen, the policy decides it: {}", id, why);
  }
  if (const std::string open = allowed_now(found->target, found->grant_id); !open.empty())
    return make_error("request {}: nothing to reopen, it is open now: {}", id, open);
  auto reopened = book_.reopen(id, now, settings_for(sandbox));
  if (!reopened) return reopened.error();
  const approvals::Request& r = reopened->request;
  if (reopened->revoked) {
    sync_grants();  // closed before the answer returns
    grant_ended(*reopened->revoked, "revoked", who.str());
  }
  persist(r);
  audit({now,
         "request",
         "reopened",
         who.str(),
         sandbox,
         r.target.address,
         r.host,
         r.target.port,
         r.target.protocol,
         {{"request_id", r.id}, {"was", was}, {"expires_at", approvals::time_text(r.expires_at)}}});
  spdlog::info("approvals: request {} ({}) reopened by {} (was: {})", r.id, terminal_text(r.target.str()), who.str(),
               terminal_text(was));
  json result = {{"request", approvals::request_to_json(r)}, {"was", was}};
  if (reopened->revoked) result["revoked_grant"] = approvals::grant_to_json(*reopened->revoked);
  broadcast({{"event", "request"}, {"request", approvals::request_to_json(r)}, {"reopened_by", who.str()}}, tenant);
  return result;
}

Result<json> ApprovalService::query_audit(const api::AuditQueryRequest& request, const approvals::Identity& who) const {
  store::AuditQuery query;
  query.after_id = request.after_id;
  query.agent_glob = request.agent.value_or("");
  query.decision = request.decision.value_or("");
  if (const std::string since = request.since.value_or(""); !since.empty()) {
    if (auto time = approvals::parse_time(since)) {
      query.since = *time;
    } else {
      auto ago = parse_duration(since);
      if (!ago) return make_error("since: {} (or an RFC 3339 time)", ago.error().message);
      query.since = approvals::Clock::now() - *ago;
    }
  }
  if (request.limit) query.limit = static_cast<size_t>(std::min<uint64_t>(*request.limit, kMaxAuditRows));
  if (auto tenants = roles_.tenants_for(who, Role::viewer)) {
    query.all_tenants = false;
    query.tenants = *tenants;
  }
  return store_->query_audit(query);
}

}  // namespace agentd::daemon
