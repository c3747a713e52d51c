// The control socket's requests: the gate (roles, from the control table
// in approvals/control_methods.cpp) and one handler per method of that
// table. Each handler checks its own fields (api/params.hpp) before it
// acts, and answers once.
#include <optional>
#include <string>
#include <type_traits>

#include <spdlog/spdlog.h>

#include "agentd/api/params.hpp"
#include "agentd/api/protocol.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/daemon/daemon.hpp"

namespace agentd::daemon {
using nlohmann::json;

namespace {

void answer(api::Reply& reply, Result<json> result) {
  reply.send(result ? api::ok_response(std::move(*result)) : api::error_response(result.error().describe()));
}

// Reads the call's typed request and answers what `serve` makes of it, or
// the refusal naming the field.
template <typename Request, typename Serve>
void serve_typed(api::Reply& reply, Result<Request> request, Serve serve) {
  if (!request) return answer(reply, request.error());
  answer(reply, serve(*request));
}

}  // namespace

const std::map<std::string_view, Daemon::ControlHandler>& Daemon::control_handlers() {
  // Handlers are plain functions (no state of their own); defined here, in
  // a member of Daemon, they may call its private parts.
  // Each handler reads its typed request (api/requests.hpp, shared with
  // agentctl), or answers the refusal naming the field. sandbox.ensure and
  // sandbox.adopt then compile the class off the loop when no sandbox has
  // had it yet (the request runs again once it is; nothing to do now).
  static const auto sandbox_request = []<typename Request>(Daemon& d, ControlCall& c,
                                                           std::type_identity<Request>) -> std::optional<Request> {
    auto request = Request::parse(c.request);
    if (!request) {
      answer(c.reply, request.error());
      return std::nullopt;
    }
    if (d.compile_class_first(c.request, c.peer, c.reply)) return std::nullopt;
    return std::move(*request);
  };
  static const std::map<std::string_view, ControlHandler> handlers = {
      {"status",
       [](Daemon& d, ControlCall& c) {
         // The whole list of a host with 10,000 sandboxes is megabytes and a
         // third of a second of the loop: status details the first ones only
         // (default kStatusSandboxes), sandbox.list gives them all.
         auto request = api::StatusRequest::parse(c.request);
         if (!request) return answer(c.reply, request.error());
         c.reply.send(api::ok_response(d.status(request->sandboxes.value_or(kStatusSandboxes), d.shown_to(c.who))));
       }},
      {"sandbox.list",
       [](Daemon& d, ControlCall& c) {
         c.reply.send(api::ok_response(d.sandboxes_json(SIZE_MAX, d.shown_to(c.who))));
       }},
      {"sandbox.profile",
       [](Daemon& d, ControlCall& c) {
         auto request = api::SandboxProfileRequest::parse(c.request);
         if (!request) return answer(c.reply, request.error());
         answer(c.reply, d.sandbox_profile(request->agent));
       }},
      {"sandbox.ensure",
       [](Daemon& d, ControlCall& c) {
         if (auto r = sandbox_request(d, c, std::type_identity<api::SandboxEnsureRequest>()))
           answer(c.reply, d.ensure_sandbox(r->agent, r->unknown_tenant));
       }},
      {"sandbox.adopt",
       [](Daemon& d, ControlCall& c) {
         auto r = sandbox_request(d, c, std::type_identity<api::SandboxAdoptRequest>());
         if (!r) return;
         // An OCI hook's caller may not show the hook's own message (crun
         // does not): the refusal is in agentd's log as well.
         auto adopted = d.adopt_sandbox(r->agent, r->cgroup, r->unknown_tenant);
         if (!adopted)
           spdlog::warn("adopting {} as the sandbox of {} refused: {}", terminal_text(r->cgroup),
                        terminal_text(r->agent), terminal_text(adopted.error().describe()));
         answer(c.reply, std::move(adopted));
       }},
      {"sandbox.remove",
       [](Daemon& d, ControlCall& c) {
         auto request = api::SandboxRemoveRequest::parse(c.request);
         if (!request) return answer(c.reply, request.error());
         answer(c.reply, d.remove_sandbox(request->agent));
       }},
      {"policy.explain",
       [](Daemon& d, ControlCall& c) {
         auto r = api::PolicyExplainRequest::parse(c.request);
         if (!r) return answer(c.reply, r.error());
         answer(c.reply, d.explain(r->agent, r->dest, r->inbound, r->sni));
       }},
      {"policy.apply", [](Daemon& d, ControlCall& c) { d.request_reload("agentctl policy apply", c.reply); }},
      {"policy.diff", [](Daemon& d, ControlCall& c) { d.diff_policy(c.reply, c.who); }},
      {"policy.source", [](Daemon& d, ControlCall& c) { c.reply.send(api::ok_response(d.policy_source(c.who))); }},
      {"approvals.watch", [](Daemon& d, ControlCall& c) { d.approvals_->watch(c.who, c.reply); }},
      {"approvals.list",
       [](Daemon& d, ControlCall& c) {
         serve_typed(c.reply, api::ApprovalsListRequest::parse(c.request),
                     [&](const auto& r) { return d.approvals_->list_requests(r, c.who); });
       }},
      {"approvals.folds",
       [](Daemon& d, ControlCall& c) {
         serve_typed(c.reply, api::ApprovalsFoldsRequest::parse(c.request),
                     [&](const auto& r) { return d.approvals_->list_folds(r, c.who); });
       }},
      {"approvals.approve",
       [](Daemon& d, ControlCall& c) {
         serve_typed(c.reply, api::ApprovalsAnswerRequest::parse(c.request, true),
                     [&](const auto& r) { return d.approvals_->answer(r, c.who); });
       }},
      {"approvals.deny",
       [](Daemon& d, ControlCall& c) {
         serve_typed(c.reply, api::ApprovalsAnswerRequest::parse(c.request, false),
                     [&](const auto& r) { return d.approvals_->answer(r, c.who); });
       }},
      {"approvals.reopen",
       [](Daemon& d, ControlCall& c) {
         serve_typed(c.reply, api::ApprovalsReopenRequest::parse(c.request),
                     [&](const auto& r) { return d.approvals_->reopen(r, c.who); });
       }},
      {"grants.list", [](Daemon& d, ControlCall& c) { answer(c.reply, d.approvals_->list_grants(c.who)); }},
      {"grants.add",
       [](Daemon& d, ControlCall& c) {
         serve_typed(c.reply, api::GrantsAddRequest::parse(c.request),
                     [&](const auto& r) { return d.approvals_->add_grant(r, c.who); });
       }},
      {"grants.revoke",
       [](Daemon& d, ControlCall& c) {
         serve_typed(c.reply, api::GrantsRevokeRequest::parse(c.request),
                     [&](const auto& r) { return d.approvals_->revoke(r, c.who); });
       }},
      {"audit.query",
       [](Daemon& d, ControlCall& c) {
         serve_typed(c.reply, api::AuditQueryRequest::parse(c.request),
                     [&](const auto& r) { return d.approvals_->query_audit(r, c.who); });
       }},
  };
  return handlers;
}

Status Daemon::check_control_handlers() {
  const auto& handlers = control_handlers();
  for (const auto& method : approvals::control_methods())
    if (!handlers.contains(method.name)) return make_error("control method {} has no handler", method.name);
  for (const auto& [name, handler] : handlers)
    if (!approvals::find_control_method(name)) return make_error("control handler {} is in no control table", name);
  return ok_status();
}

void Daemon::handle(const json& request, const api::Peer& peer, api::Reply reply) {
  const std::string name = request["method"];
  const approvals::ControlMethod* method = approvals::find_control_method(name);
  if (!method) return reply.send(api::error_response(fmt::format("unknown method \"{}\"", name)));
  // Roles: viewers read, approvers answer for their tenants, admins do the rest.
  const auto who = approvals_->identity(peer);
  if (auto refusal = approvals_->refuse(who, *method, request)) return reply.send(api::error_response(*refusal));
  ControlCall call{*method, request, peer, who, reply};
  control_handlers().at(method->name)(*this, call);
}

}  // namespace agentd::daemon
