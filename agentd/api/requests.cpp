#include "agentd/api/requests.hpp"

#include "agentd/api/params.hpp"
#include "agentd_abi.h"

namespace agentd::api {
using nlohmann::json;

namespace {

// An absent flag is false.
Result<bool> flag(const json& request, const char* field) {
  auto value = optional_bool(request, field);
  if (!value) return value.error();
  return value->value_or(false);
}

// id: a request's or a grant's.
Result<uint64_t> id_field(const json& request) { return required_number(request, "id", 1, kMaxId); }

Result<GrantTerms> grant_terms(const json& request) {
  auto scope = optional_string(request, "scope");
  if (!scope) return scope.error();
  auto permanent = flag(request, "permanent");
  if (!permanent) return permanent.error();
  auto duration = optional_string(request, "for");
  if (!duration) return duration.error();
  auto ports = optional_string(request, "ports");
  if (!ports) return ports.error();
  return GrantTerms{std::move(*scope), *permanent, std::move(*duration), std::move(*ports)};
}

void add_terms(json& request, const GrantTerms& terms) {
  if (terms.scope) request["scope"] = *terms.scope;
  if (terms.permanent) request["permanent"] = true;
  if (terms.duration) request["for"] = *terms.duration;
  if (terms.ports) request["ports"] = *terms.ports;
}

}  // namespace

json StatusRequest::to_json() const {
  json request = {{"method", kMethod}};
  if (sandboxes) request["sandboxes"] = *sandboxes;
  return request;
}

Result<StatusRequest> StatusRequest::parse(const json& request) {
  auto sandboxes = optional_number(request, "sandboxes", 0, AGENTD_MAX_SANDBOXES);
  if (!sandboxes) return sandboxes.error();
  return StatusRequest{*sandboxes};
}

json SandboxEnsureRequest::to_json() const {
  json request = {{"method", kMethod}, {"agent", agent}};
  if (unknown_tenant) request["unknown_tenant"] = true;
  return request;
}

Result<SandboxEnsureRequest> SandboxEnsureRequest::parse(const json& request) {
  auto unknown_tenant = flag(request, "unknown_tenant");
  if (!unknown_tenant) return unknown_tenant.error();
  auto agent = required_string(request, "agent");
  if (!agent) return agent.error();
  return SandboxEnsureRequest{std::move(*agent), *unknown_tenant};
}

json SandboxAdoptRequest::to_json() const {
  json request = {{"method", kMethod}, {"agent", agent}, {"cgroup", cgroup}};
  if (unknown_tenant) request["unknown_tenant"] = true;
  return request;
}

Result<SandboxAdoptRequest> SandboxAdoptRequest::parse(const json& request) {
  auto ensure = SandboxEnsureRequest::parse(request);
  if (!ensure) return ensure.error();
  auto cgroup = required_string(request, "cgroup");
  if (!cgroup) return cgroup.error();
  return SandboxAdoptRequest{std::move(ensure->agent), std::move(*cgroup), ensure->unknown_tenant};
}

json SandboxRemoveRequest::to_json() const { return {{"method", kMethod}, {"agent", agent}}; }

Result<SandboxRemoveRequest> SandboxRemoveRequest::parse(const json& request) {
  auto agent = required_string(request, "agent");
  if (!agent) return agent.error();
  return SandboxRemoveRequest{std::move(*agent)};
}

json SandboxProfileRequest::to_json() const { return {{"method", kMethod}, {"agent", agent}}; }

Result<SandboxProfileRequest> SandboxProfileRequest::parse(const json& request) {
  auto agent = required_string(request, "agent");
  if (!agent) return agent.error();
  return SandboxProfileRequest{std::move(*agent)};
}

json PolicyExplainRequest::to_json() const {
  json request = {{"method", kMethod}, {"agent", agent}, {"dest", dest}, {"inbound", inbound}};
  if (!sni.empty()) request["sni"] = sni;
  return request;
}

Result<PolicyExplainRequest> PolicyExplainRequest::parse(const json& request) {
  auto inbound = flag(request, "inbound");
  if (!inbound) return inbound.error();
  auto sni = optional_string(request, "sni");
  if (!sni) return sni.error();
  auto agent = required_string(request, "agent");
  if (!agent) return agent.error();
  auto dest = required_string(request, "dest");
  if (!dest) return dest.error();
  return PolicyExplainRequest{std::move(*agent), std::move(*dest), *inbound, sni->value_or("")};
}

json ApprovalsListRequest::to_json() const {
  json request = {{"method", kMethod}};
  if (state) request["state"] = *state;
  return request;
}

Result<ApprovalsListRequest> ApprovalsListRequest::parse(const json& request) {
  auto state = optional_string(request, "state");
  if (!state) return state.error();
  return ApprovalsListRequest{std::move(*state)};
}

json ApprovalsFoldsRequest::to_json() const {
  json request = {{"method", kMethod}};
  if (sandbox) request["sandbox"] = *sandbox;
  return request;
}

Result<ApprovalsFoldsRequest> ApprovalsFoldsRequest::parse(const json& request) {
  auto sandbox = optional_string(request, "sandbox");
  if (!sandbox) return sandbox.error();
  return ApprovalsFoldsRequest{std::move(*sandbox)};
}

json ApprovalsAnswerRequest::to_json() const {
  json request = {{"method", method()}, {"id", id}};
  add_terms(request, terms);
  return request;
}

Result<ApprovalsAnswerRequest> ApprovalsAnswerRequest::parse(const json& request, bool allow) {
  auto id = id_field(request);
  if (!id) return id.error();
  auto terms = grant_terms(request);
  if (!terms) return terms.error();
  return ApprovalsAnswerRequest{*id, allow, std::move(*terms)};
}

json ApprovalsReopenRequest::to_json() const { return {{"method", kMethod}, {"id", id}}; }

Result<ApprovalsReopenRequest> ApprovalsReopenRequest::parse(const json& request) {
  auto id = id_field(request);
  if (!id) return id.error();
  return ApprovalsReopenRequest{*id};
}

json GrantsAddRequest::to_json() const {
  json request = {{"method", kMethod}, {"agent", agent}, {"dest", dest}};
  add_terms(request, terms);
  return request;
}

Result<GrantsAddRequest> GrantsAddRequest::parse(const json& request) {
  auto agent = required_string(request, "agent");
  if (!agent) return agent.error();
  auto dest = required_string(request, "dest");
  if (!dest) return dest.error();
  auto terms = grant_terms(request);
  if (!terms) return terms.error();
  return GrantsAddRequest{std::move(*agent), std::move(*dest), std::move(*terms)};
}

json GrantsRevokeRequest::to_json() const { return {{"method", kMethod}, {"id", id}}; }

Result<GrantsRevokeRequest> GrantsRevokeRequest::parse(const json& request) {
  auto id = id_field(request);
  if (!id) return id.error();
  return GrantsRevokeRequest{*id};
}

json AuditQueryRequest::to_json() const {
  json request = {{"method", kMethod}};
  if (agent) request["agent"] = *agent;
  if (decision) request["decision"] = *decision;
  if (since) request["since"] = *since;
  if (limit) request["limit"] = *limit;
  if (after_id) request["after_id"] = after_id;
  return request;
}

Result<AuditQueryRequest> AuditQueryRequest::parse(const json& request) {
  auto agent = optional_string(request, "agent");
  if (!agent) return agent.error();
  auto decision = optional_string(request, "decision");
  if (!decision) return decision.error();
  auto since = optional_string(request, "since");
  if (!since) return since.error();
  auto limit = optional_number(request, "limit", 1, UINT64_MAX);
  if (!limit) return limit.error();
  // The store's ids are SQLite integers.
  auto after_id = optional_number(request, "after_id", 0, INT64_MAX);
  if (!after_id) return after_id.error();
  return AuditQueryRequest{std::move(*agent), std::move(*decision), std::move(*since), *limit, after_id->value_or(0)};
}

Result<std::string> agent_tenant(const json& request) {
  auto agent = required_string(request, "agent");
  if (!agent) return agent.error();
  return agent->substr(0, agent->find('/'));
}

}  // namespace agentd::api
