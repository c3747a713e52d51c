// The control requests agentd's daemon side serves (status, sandbox.*,
// policy.explain), typed: agentctl builds each from its struct and agentd
// reads each back into the same struct, so the two sides cannot drift on
// a field's name or type. Reading checks every field (api/params.hpp): a
// field of the wrong type or range is refused naming it. The approvals'
// methods (approvals.*, grants.*, audit.query) still read their fields in
// ApprovalService.
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

}  // namespace agentd::api
