// ApprovalService on the kernel's maps kept in memory (memory_maps.hpp) and
// a store in a directory of its own: the approvals' whole path (denials in,
// requests, answers, grants in the kernel's maps, the store, a restart)
// without root or a control socket. The unit tests and the control-request
// fuzz target share it.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "agentd/api/requests.hpp"
#include "agentd/daemon/approval_service.hpp"
#include "agentd/daemon/policy_applier.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/events/denial.hpp"
#include "agentd/policy/loader.hpp"
#include "agentd/store/store.hpp"
#include "memory_maps.hpp"

namespace agentd::testing {

inline constexpr const char* kApprovalPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.10/32
        ports: [80]
    deny:
      - cidr: 198.51.100.66/32
)";

class ApprovalHarness {
 public:
  // Sandboxes of `agents` in slots 1, 2, ..., the policy applied to them.
  explicit ApprovalHarness(const std::vector<std::string>& agents, const std::string& policy_yaml = kApprovalPolicy) {
    char pattern[] = "/tmp/agentd-approvals-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp");
    dir_ = pattern;
    auto loaded = policy::parse_policy_texts({{"acme.yaml", policy_yaml}});
    if (!loaded.ok()) throw std::runtime_error("the harness's policy is invalid");
    policy_ = std::make_shared<const policy::PolicySet>(std::move(*loaded.policy));
    uint32_t slot = 0;
    for (const auto& agent : agents) {
      daemon::Sandbox s;
      s.agent = *policy::parse_agent_name(agent);
      s.slot = ++slot;
      s.cgroup_id = 100 + slot;
      s.generation = 1;
      registry_.put(s);
    }
    if (!applier_.apply(policy_, registry_)) throw std::runtime_error("applying the harness's policy");
    restart();
  }
  ~ApprovalHarness() {
    service_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ApprovalHarness(const ApprovalHarness&) = delete;
  ApprovalHarness& operator=(const ApprovalHarness&) = delete;

  // A new service (and store handle) on the same store file and maps, as
  // after agentd restarts.
  void restart() {
    service_.reset();
    store_.reset();
    auto store = store::Store::open(dir_ / "agentd.db", {});
    if (!store) throw std::runtime_error("opening the store: " + store.error().describe());
    store_ = std::move(*store);
    auto service = daemon::ApprovalService::start({}, *store_, maps_, applier_, registry_);
    if (!service) throw std::runtime_error("starting approvals: " + service.error().describe());
    service_ = std::move(*service);
  }

  // A connect the kernel refused for want of a rule, as its record says.
  static events::Denial refused_connect(const std::string& sandbox, const std::string& address, uint16_t port) {
    events::Denial d;
    d.hook = events::DenialHook::connect4;
    d.reason = events::DenialReason::no_rule;
    d.time = events::record_time(events::RecordClock::now());
    d.sandbox = sandbox;
    d.family = "inet";
    d.destination = events::DenialDestination{address, port, "tcp"};
    return d;
  }

  // A new policy for tenant acme, applied to the sandboxes as a reload
  // does, then what the approvals do after one.
  daemon::ApprovalService::AfterReload reload(const std::string& policy_yaml) {
    auto loaded = policy::parse_policy_texts({{"acme.yaml", policy_yaml}});
    if (!loaded.ok()) throw std::runtime_error("the reloaded policy is invalid");
    policy_ = std::make_shared<const policy::PolicySet>(std::move(*loaded.policy));
    if (!applier_.apply(policy_, registry_)) throw std::runtime_error("applying the reloaded policy");
    return service_->after_reload("a test's reload");
  }

  // A control request as agentd serves it: its typed request read
  // (api/requests.hpp), then the service's method, as root.
  Result<nlohmann::json> call(const nlohmann::json& request) {
    const auto who = root();
    auto& service = *service_;
    const auto serve = [](auto typed, auto method) -> Result<nlohmann::json> {
      if (!typed) return typed.error();
      return method(*typed);
    };
    const std::string method = request.is_object() && request.contains("method") && request["method"].is_string()
                                   ? request["method"].get<std::string>()
                                   : "";
    if (method == "approvals.list")
      return serve(api::ApprovalsListRequest::parse(request),
                   [&](const auto& r) { return service.list_requests(r, who); });
    if (method == "approvals.folds")
      return serve(api::ApprovalsFoldsRequest::parse(request),
                   [&](const auto& r) { return service.list_folds(r, who); });
    if (method == "approvals.approve" || method == "approvals.deny")
      return serve(api::ApprovalsAnswerRequest::parse(request, method == "approvals.approve"),
                   [&](const auto& r) { return service.answer(r, who); });
    if (method == "approvals.reopen")
      return serve(api::ApprovalsReopenRequest::parse(request), [&](const auto& r) { return service.reopen(r, who); });
    if (method == "grants.list") return service.list_grants(who);
    if (method == "grants.add")
      return serve(api::GrantsAddRequest::parse(request), [&](const auto& r) { return service.add_grant(r, who); });
    if (method == "grants.revoke")
      return serve(api::GrantsRevokeRequest::parse(request), [&](const auto& r) { return service.revoke(r, who); });
    if (method == "audit.query")
      return serve(api::AuditQueryRequest::parse(request), [&](const auto& r) { return service.query_audit(r, who); });
    return make_error("no approvals method \"{}\"", method);
  }

  daemon::ApprovalService& service() { return *service_; }
  MemoryMaps& maps() { return maps_; }
  const daemon::SandboxRegistry& registry() const { return registry_; }
  // root: every role on every tenant.
  approvals::Identity root() const { return service_->identity(api::Peer{}); }

 private:
  std::filesystem::path dir_;
  MemoryMaps maps_;
  daemon::PolicyApplier applier_{maps_};
  daemon::SandboxRegistry registry_{16};
  std::shared_ptr<const policy::PolicySet> policy_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<daemon::ApprovalService> service_;
};

}  // namespace agentd::testing
