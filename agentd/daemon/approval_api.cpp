// The control API's approval methods and the watch subscription.
#include <fnmatch.h>

#include <spdlog/spdlog.h>

#include "agentd/api/protocol.hpp"
#include "agentd/approvals/ocsf.hpp"
#include "agentd/common/duration.hpp"
#include "agentd/daemon/approval_service.hpp"

namespace agentd::daemon {
using approvals::Role;
using nlohmann::json;

namespace {

std::string tenant_of(const std::string& sandbox) { return sandbox.substr(0, sandbox.find('/')); }

std::string string_param(const json& request, const char* name) {
  auto it = request.find(name);
  return it != request.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<uint64_t> id_param(const json& request) {
  auto it = request.find("id");
  if (it == request.end() || !it->is_number_unsigned()) return make_error("the request needs \"id\", a number");
  return it->get<uint64_t>();
}

}  // namespace

Role ApprovalService::role_needed(const std::string& method) {
  if (method == "approvals.approve" || method == "approvals.deny" || method == "grants.revoke") return Role::approver;
  if (method == "status" || method == "sandbox.list" || method == "sandbox.profile" || method == "policy.explain" ||
      method == "policy.diff" ||
      method == "approvals.watch" || method == "approvals.list" || method == "grants.list" || method == "audit.query")
    return Role::viewer;
  return Role::admin;
}

std::optional<std::string> ApprovalService::refuse(const approvals::Identity& who, const std::string& method,
                                                   const json& request) const {
  const Role needed = role_needed(method);
  if (roles_.highest(who) < needed)
    return fmt::format("{} may not call {} (it needs the {} role)", who.str(), method, approvals::role_name(needed));
  // An admin of some tenants makes sandboxes for those only; reloading the
  // policy of every tenant needs an admin of every tenant.
  if (method == "sandbox.ensure" || method == "sandbox.adopt") {
    const std::string tenant = tenant_of(string_param(request, "agent"));
    if (!may(who, Role::admin, tenant)) return fmt::format("{} is no admin of tenant {}", who.str(), tenant);
  } else if (needed == Role::admin && roles_.tenants_for(who, Role::admin)) {
    return fmt::format("{} may not call {}: it needs an admin of every tenant", who.str(), method);
  }
  return std::nullopt;
}

bool ApprovalService::handles(const std::string& method) const {
  return method.rfind("approvals.", 0) == 0 || method.rfind("grants.", 0) == 0 || method == "audit.query";
}

void ApprovalService::handle(const std::string& method, const json& request, const approvals::Identity& who,
                             api::Reply reply) {
  auto answer_with = [&](Result<json> result) {
    reply.send(result ? api::ok_response(std::move(*result)) : api::error_response(result.error().describe()));
  };
  if (method == "approvals.watch") return watch(who, reply);
  if (method == "approvals.list") return answer_with(list_requests(request, who));
  if (method == "approvals.approve") return answer_with(answer(request, who, true));
  if (method == "approvals.deny") return answer_with(answer(request, who, false));
  if (method == "grants.list") return answer_with(list_grants(who));
  if (method == "grants.revoke") return answer_with(revoke(request, who));
  if (method == "audit.query") return answer_with(query_audit(request, who));
  reply.send(api::error_response(fmt::format("unknown method \"{}\"", method)));
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
  if (!reply.stream(api::ok_response({{"who", who.str()}, {"can_answer", can_answer}, {"pending", pending}}))) return;
  watchers_.push_back({reply, who});
  spdlog::info("approvals: {} watching ({} watchers)", who.str(), watchers_.size());
}

Result<json> ApprovalService::list_requests(const json& request, const approvals::Identity& who) const {
  const std::string state = string_param(request, "state");
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

Result<json> ApprovalService::answer(const json& request, const approvals::Identity& who, bool allow) {
  auto id = id_param(request);
  if (!id) return id.error();
  const approvals::Request* found = book_.request(*id);
  if (!found) return make_error("no request {} (see agentctl approvals list)", *id);
  const std::string sandbox = found->target.sandbox;
  const std::string tenant = tenant_of(sandbox);
  // Same words whether the request exists in another tenant or not at all
  // would hide it; an operator of another tenant learns only that it is not theirs.
  if (!may(who, Role::approver, tenant))
    return make_error("{} may not answer requests of tenant {} (role: {})", who.str(), tenant,
                      approvals::role_name(roles_.role_for(who, tenant)));
  approvals::Decision decision;
  decision.allow = allow;
  if (allow) {
    auto scope = approvals::parse_scope(string_param(request, "scope").empty() ? "agent" : string_param(request, "scope"));
    if (!scope) return make_error("scope \"{}\" is not agent, team or tenant", string_param(request, "scope"));
    decision.scope = *scope;
    decision.permanent = request.value("permanent", false);
  }
  if (request.contains("for")) {
    auto duration = parse_duration(string_param(request, "for"));
    if (!duration) return make_error("for: {}", duration.error().message);
    decision.duration = *duration;
  }
  if (decision.permanent && decision.duration) return make_error("give a time (for) or permanent, not both");
  auto answered = book_.decide(*id, decision, who.str(), approvals::Clock::now(), settings_for(sandbox));
  if (!answered) return answered.error();
  const approvals::Request& r = answered->request;
  persist(r);
  audit({*r.answered_at, "decision", allow ? "approved" : "denied", who.str(), sandbox, r.target.address, r.host,
         r.target.port, r.target.protocol, {{"request_id", r.id}, {"answer", r.answer}, {"denials", r.count}}});
  siem(approvals::ocsf_decision(r, answered->grant));
  if (answered->grant) {
    const approvals::Grant& g = *answered->grant;
    if (auto st = store_->save_grant(g); !st) return make_error("saving the grant: {}", st.error().describe());
    audit({g.created_at, "grant", "allow", who.str(), g.subject, g.address, g.host, g.port, g.protocol,
           {{"grant_id", g.id},
            {"scope", approvals::scope_name(g.scope)},
            {"expires_at", g.expires_at ? json(approvals::time_text(*g.expires_at)) : json(nullptr)}}});
    sync_grants();  // in force before the answer returns: the agent's next try succeeds
  }
  spdlog::info("approvals: request {} ({}) answered by {}: {}", r.id, r.target.str(), who.str(), r.answer);
  json result = {{"request", approvals::request_to_json(r)}};
  if (answered->grant) result["grant"] = approvals::grant_to_json(*answered->grant);
  json event = result;
  event["event"] = "answered";
  broadcast(event, tenant);
  return result;
}

Result<json> ApprovalService::list_grants(const approvals::Identity& who) const {
  json list = json::array();
  for (const auto& [id, g] : book_.grants())
    if (may(who, Role::viewer, g.tenant())) list.push_back(approvals::grant_to_json(g));
  return list;
}

Result<json> ApprovalService::revoke(const json& request, const approvals::Identity& who) {
  auto id = id_param(request);
  if (!id) return id.error();
  auto it = book_.grants().find(*id);
  if (it == book_.grants().end()) return make_error("no grant {} (see agentctl grants list)", *id);
  if (!may(who, Role::approver, it->second.tenant()))
    return make_error("{} may not revoke grants of tenant {}", who.str(), it->second.tenant());
  auto grant = book_.revoke(*id);
  if (!grant) return grant.error();
  sync_grants();
  grant_ended(*grant, "revoked", who.str());
  spdlog::info("approvals: grant {} revoked by {}", grant->id, who.str());
  return approvals::grant_to_json(*grant);
}

Result<json> ApprovalService::query_audit(const json& request, const approvals::Identity& who) const {
  store::AuditQuery query;
  query.agent_glob = string_param(request, "agent");
  query.decision = string_param(request, "decision");
  if (const std::string since = string_param(request, "since"); !since.empty()) {
    if (auto time = approvals::parse_time(since)) {
      query.since = *time;
    } else {
      auto ago = parse_duration(since);
      if (!ago) return make_error("since: {} (or an RFC 3339 time)", ago.error().message);
      query.since = approvals::Clock::now() - *ago;
    }
  }
  if (request.contains("limit") && request["limit"].is_number_unsigned())
    query.limit = std::min<size_t>(request["limit"].get<size_t>(), 100000);
  if (auto tenants = roles_.tenants_for(who, Role::viewer)) {
    query.all_tenants = false;
    query.tenants = *tenants;
  }
  return store_->query_audit(query);
}

}  // namespace agentd::daemon
