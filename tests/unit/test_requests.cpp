// The typed control requests agentctl builds and agentd reads back
// (agentd/api/requests.hpp): every field survives the trip, and a field of
// the wrong type, out of range or missing is refused naming it.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "agentd/api/params.hpp"
#include "agentd/api/requests.hpp"

using namespace agentd::api;
using nlohmann::json;

namespace {

template <typename Request>
void round_trips(const Request& request) {
  const json wire = request.to_json();
  INFO(wire.dump());
  CHECK(wire["method"] == Request::kMethod);
  auto back = Request::parse(wire);
  REQUIRE(back);
  CHECK(*back == request);
}

template <typename Request>
void refused_naming(const json& wire, const std::string& field) {
  INFO(wire.dump());
  auto parsed = Request::parse(wire);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().describe().find("\"" + field + "\"") != std::string::npos);
}

}  // namespace

TEST_CASE("the typed control requests arrive as they were sent") {
  round_trips(StatusRequest{});
  round_trips(StatusRequest{250});
  round_trips(SandboxEnsureRequest{"acme/eng/coder-1", false});
  round_trips(SandboxEnsureRequest{"newco/eng/a", true});
  round_trips(SandboxAdoptRequest{"acme/eng/coder-1", "/sys/fs/cgroup/machine.slice/x", true});
  round_trips(SandboxRemoveRequest{"acme/eng/coder-1"});
  round_trips(SandboxProfileRequest{"acme/eng/coder-1"});
  round_trips(PolicyExplainRequest{"acme/eng/coder-1", "198.51.100.10:443/tcp", false, ""});
  round_trips(PolicyExplainRequest{"acme/eng/coder-1", "api.example.test:443/tcp", true, "api.example.test"});
  // Flags left out mean false; what an older agentctl sends still reads.
  auto plain = SandboxEnsureRequest::parse({{"method", "sandbox.ensure"}, {"agent", "acme/eng/a"}});
  REQUIRE(plain);
  CHECK_FALSE(plain->unknown_tenant);
}

TEST_CASE("a control request with a field of the wrong type, out of range or missing is refused naming it") {
  refused_naming<StatusRequest>({{"sandboxes", -1}}, "sandboxes");
  refused_naming<StatusRequest>({{"sandboxes", "all"}}, "sandboxes");
  refused_naming<StatusRequest>({{"sandboxes", 1e12}}, "sandboxes");
  refused_naming<SandboxEnsureRequest>(json::object(), "agent");
  refused_naming<SandboxEnsureRequest>({{"agent", 7}}, "agent");
  refused_naming<SandboxEnsureRequest>({{"agent", "acme/eng/a"}, {"unknown_tenant", "yes"}}, "unknown_tenant");
  refused_naming<SandboxAdoptRequest>({{"agent", "acme/eng/a"}}, "cgroup");
  refused_naming<SandboxAdoptRequest>({{"agent", "acme/eng/a"}, {"cgroup", json::array()}}, "cgroup");
  refused_naming<SandboxRemoveRequest>({{"agent", nullptr}}, "agent");
  refused_naming<SandboxProfileRequest>({{"agent", ""}}, "agent");
  refused_naming<PolicyExplainRequest>({{"agent", "acme/eng/a"}}, "dest");
  refused_naming<PolicyExplainRequest>({{"agent", "acme/eng/a"}, {"dest", "x:1/tcp"}, {"inbound", 1}}, "inbound");
  refused_naming<PolicyExplainRequest>({{"agent", "acme/eng/a"}, {"dest", "x:1/tcp"}, {"sni", false}}, "sni");
}

TEST_CASE("the approvals' typed requests arrive as they were sent") {
  round_trips(ApprovalsListRequest{});
  round_trips(ApprovalsListRequest{"all"});
  round_trips(ApprovalsFoldsRequest{"acme/eng/coder-1"});
  round_trips(ApprovalsReopenRequest{7});
  round_trips(GrantsRevokeRequest{kMaxId});
  round_trips(GrantsAddRequest{"acme/eng/coder-1", "api.example.test:443", {"team", false, "8h", std::nullopt}});
  round_trips(AuditQueryRequest{"acme/*", "approved", "1h", 50, 1234});
  round_trips(AuditQueryRequest{});
  // An answer's method is its verdict; what it names reads back under it.
  for (bool allow : {true, false}) {
    const ApprovalsAnswerRequest answer{3, allow, {allow ? "tenant" : std::optional<std::string>{}, allow, {}, {}}};
    const json wire = answer.to_json();
    CHECK(wire["method"] == (allow ? "approvals.approve" : "approvals.deny"));
    auto back = ApprovalsAnswerRequest::parse(wire, allow);
    REQUIRE(back);
    CHECK(*back == answer);
  }
  // The methods with no field name only themselves.
  CHECK(GrantsListRequest{}.to_json() == json{{"method", "grants.list"}});
  CHECK(ApprovalsWatchRequest{}.to_json() == json{{"method", "approvals.watch"}});
}

TEST_CASE("an approvals request with a field of the wrong type, out of range or missing is refused naming it") {
  const auto answer = [](const json& wire) { return ApprovalsAnswerRequest::parse(wire, true); };
  for (const auto& [wire, field] :
       std::vector<std::pair<json, std::string>>{{json::object(), "id"},
                                                 {{{"id", 0}}, "id"},
                                                 {{{"id", "1"}}, "id"},
                                                 {{{"id", 1}, {"scope", 5}}, "scope"},
                                                 {{{"id", 1}, {"permanent", "yes"}}, "permanent"},
                                                 {{{"id", 1}, {"for", 3600}}, "for"},
                                                 {{{"id", 1}, {"ports", json::array({80})}}, "ports"}}) {
    INFO(wire.dump());
    auto parsed = answer(wire);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().describe().find("\"" + field + "\"") != std::string::npos);
  }
  refused_naming<ApprovalsListRequest>({{"state", 1}}, "state");
  refused_naming<ApprovalsFoldsRequest>({{"sandbox", json::object()}}, "sandbox");
  refused_naming<ApprovalsReopenRequest>({{"id", -3}}, "id");
  refused_naming<GrantsRevokeRequest>({{"id", 1e300}}, "id");
  refused_naming<GrantsAddRequest>({{"dest", "198.51.100.20:80"}}, "agent");
  refused_naming<GrantsAddRequest>({{"agent", "acme/eng/a"}}, "dest");
  refused_naming<GrantsAddRequest>({{"agent", "acme/eng/a"}, {"dest", "x"}, {"for", false}}, "for");
  refused_naming<AuditQueryRequest>({{"limit", 0}}, "limit");
  refused_naming<AuditQueryRequest>({{"after_id", -1}}, "after_id");
  refused_naming<AuditQueryRequest>({{"agent", 5}}, "agent");
  // The role gate's tenant comes from the agent's name, or a refusal.
  CHECK(*agent_tenant({{"agent", "acme/eng/a"}}) == "acme");
  CHECK_FALSE(agent_tenant(json::object()));
}
