// The control requests agentd's daemon side serves (status, sandbox.*,
// policy.explain), typed: agentctl builds each from its struct and agentd
// reads each back into the same struct, so the two sides cannot drift on
// a field's name or type. Reading checks every field (api/params.hpp): a
// field of the wrong type or range is refused naming it. What a field
// means (a scope's name, a duration, a port list) is judged where it is
// used, by the daemon, whose libraries agentctl does not link.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"

namespace agentd::api {

// status: agentd details this many sandboxes (its default when absent).
struct StatusRequest {
  std::optional<uint64_t> sandboxes;
  static constexpr const char* kMethod = "status";
  nlohmann::json to_json() const;
  static Result<StatusRequest> parse(const nlohmann::json& request);
  bool operator==(const StatusRequest&) const = default;
};

// sandbox.ensure: the sandbox of `agent`, made if there is none.
// unknown_tenant: a tenant no policy names is meant, not a typo.
struct SandboxEnsureRequest {
  std::string agent;
  bool unknown_tenant = false;
  static constexpr const char* kMethod = "sandbox.ensure";
  nlohmann::json to_json() const;
  static Result<SandboxEnsureRequest> parse(const nlohmann::json& request);
  bool operator==(const SandboxEnsureRequest&) const = default;
};

// sandbox.adopt: an existing cgroup becomes the sandbox of `agent`.
struct SandboxAdoptRequest {
  std::string agent;
  std::string cgroup;
  bool unknown_tenant = false;
  static constexpr const char* kMethod = "sandbox.adopt";
  nlohmann::json to_json() const;
  static Result<SandboxAdoptRequest> parse(const nlohmann::json& request);
  bool operator==(const SandboxAdoptRequest&) const = default;
};

// sandbox.remove and sandbox.profile: one agent.
struct SandboxRemoveRequest {
  std::string agent;
  static constexpr const char* kMethod = "sandbox.remove";
  nlohmann::json to_json() const;
  static Result<SandboxRemoveRequest> parse(const nlohmann::json& request);
  bool operator==(const SandboxRemoveRequest&) const = default;
};

struct SandboxProfileRequest {
  std::string agent;
  static constexpr const char* kMethod = "sandbox.profile";
  nlohmann::json to_json() const;
  static Result<SandboxProfileRequest> parse(const nlohmann::json& request);
  bool operator==(const SandboxProfileRequest&) const = default;
};

// policy.explain: what decides `dest` ("ADDR:PORT/PROTO" or
// "HOST:PORT/PROTO") for `agent`; inbound: a peer coming in; sni: the
// name the connection's first bytes would carry.
struct PolicyExplainRequest {
  std::string agent;
  std::string dest;
  bool inbound = false;
  std::string sni;  // empty: none
  static constexpr const char* kMethod = "policy.explain";
  nlohmann::json to_json() const;
  static Result<PolicyExplainRequest> parse(const nlohmann::json& request);
  bool operator==(const PolicyExplainRequest&) const = default;
};

// approvals.list: the requests in `state` (pending when absent; "all":
// every state).
struct ApprovalsListRequest {
  std::optional<std::string> state;
  static constexpr const char* kMethod = "approvals.list";
  nlohmann::json to_json() const;
  static Result<ApprovalsListRequest> parse(const nlohmann::json& request);
  bool operator==(const ApprovalsListRequest&) const = default;
};

// approvals.folds: every fold entry, or with `sandbox` that one expanded.
struct ApprovalsFoldsRequest {
  std::optional<std::string> sandbox;
  static constexpr const char* kMethod = "approvals.folds";
  nlohmann::json to_json() const;
  static Result<ApprovalsFoldsRequest> parse(const nlohmann::json& request);
  bool operator==(const ApprovalsFoldsRequest&) const = default;
};

// How an approval opens what it opens: an operator's answer and a grant
// made ahead (grants.add) take the same fields.
struct GrantTerms {
  std::optional<std::string> scope;     // agent (the default), team or tenant
  bool permanent = false;               // no expiry
  std::optional<std::string> duration;  // "for": 30m, 8h, 7d; absent: the tenant's default
  std::optional<std::string> ports;     // a name's grant on these ports only
  bool operator==(const GrantTerms&) const = default;
};

// approvals.approve (allow) and approvals.deny: answer request `id`.
struct ApprovalsAnswerRequest {
  uint64_t id = 0;
  bool allow = true;
  GrantTerms terms;
  const char* method() const { return allow ? "approvals.approve" : "approvals.deny"; }
  nlohmann::json to_json() const;
  static Result<ApprovalsAnswerRequest> parse(const nlohmann::json& request, bool allow);
  bool operator==(const ApprovalsAnswerRequest&) const = default;
};

// approvals.reopen: take the answer to request `id` back.
struct ApprovalsReopenRequest {
  uint64_t id = 0;
  static constexpr const char* kMethod = "approvals.reopen";
  nlohmann::json to_json() const;
  static Result<ApprovalsReopenRequest> parse(const nlohmann::json& request);
  bool operator==(const ApprovalsReopenRequest&) const = default;
};

// grants.add: open `dest` (ADDR:PORT[/udp], NAME or NAME:PORTS) for
// `agent` before anything was refused.
struct GrantsAddRequest {
  std::string agent;
  std::string dest;
  GrantTerms terms;
  static constexpr const char* kMethod = "grants.add";
  nlohmann::json to_json() const;
  static Result<GrantsAddRequest> parse(const nlohmann::json& request);
  bool operator==(const GrantsAddRequest&) const = default;
};

// grants.revoke: end grant `id` now.
struct GrantsRevokeRequest {
  uint64_t id = 0;
  static constexpr const char* kMethod = "grants.revoke";
  nlohmann::json to_json() const;
  static Result<GrantsRevokeRequest> parse(const nlohmann::json& request);
  bool operator==(const GrantsRevokeRequest&) const = default;
};

// audit.query: events of agents matching `agent` (a glob), of one
// `decision`, `since` a duration ago or an RFC 3339 time, at most `limit`,
// after event `after_id` (a follower's cursor).
struct AuditQueryRequest {
  std::optional<std::string> agent;
  std::optional<std::string> decision;
  std::optional<std::string> since;
  std::optional<uint64_t> limit;
  uint64_t after_id = 0;
  static constexpr const char* kMethod = "audit.query";
  nlohmann::json to_json() const;
  static Result<AuditQueryRequest> parse(const nlohmann::json& request);
  bool operator==(const AuditQueryRequest&) const = default;
};

// The methods that take no field.
struct ApprovalsWatchRequest {
  static constexpr const char* kMethod = "approvals.watch";
  nlohmann::json to_json() const { return {{"method", kMethod}}; }
};

struct SandboxListRequest {
  static constexpr const char* kMethod = "sandbox.list";
  nlohmann::json to_json() const { return {{"method", kMethod}}; }
};

struct GrantsListRequest {
  static constexpr const char* kMethod = "grants.list";
  nlohmann::json to_json() const { return {{"method", kMethod}}; }
};

// The tenant a sandbox request (sandbox.ensure|adopt|remove) concerns,
// for the role gate before its handler: the part of "agent" before the
// first '/'. A missing or mistyped "agent" is refused naming the field.
Result<std::string> agent_tenant(const nlohmann::json& request);

}  // namespace agentd::api
