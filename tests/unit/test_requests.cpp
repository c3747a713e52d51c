// The typed control requests agentctl builds and agentd reads back
// (agentd/api/requests.hpp): every field survives the trip, and a field of
// the wrong type, out of range or missing is refused naming it.
#include <catch2/catch.hpp>

#include <string>

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
