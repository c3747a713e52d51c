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

}  // namespace agentd::api
