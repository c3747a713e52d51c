// Roles files and the approvals section of a tenant's policy: parsing,
// errors at file:line:column, and who may do what.
#include <catch2/catch.hpp>

#include "agentd/approvals/ocsf.hpp"
#include "agentd/approvals/roles.hpp"
#include "agentd/policy/approval_settings.hpp"
#include "agentd/policy/loader.hpp"

using namespace agentd;
using namespace agentd::approvals;

namespace {

Identity person(uint32_t uid, std::string user, std::vector<std::string> groups) {
  Identity who;
  who.uid = uid;
  who.user = std::move(user);
  who.groups = std::move(groups);
  who.gids = {uid};
  return who;
}

}  // namespace

TEST_CASE("roles: approver per tenant, viewer, admin, root, nobody") {
  auto roles = Roles::parse(R"(roles:
  - groups: [secops]
    role: approver
    tenants: [acme]
  - users: [carol, "1005"]
    role: viewer
  - users: [dave]
    role: admin
)",
                            "roles.yaml");
  REQUIRE(roles);
  const auto alice = person(1001, "alice", {"alice", "secops"});
  CHECK(roles->role_for(alice, "acme") == Role::approver);
  CHECK(roles->role_for(alice, "globex") == Role::none);
  CHECK(roles->highest(alice) == Role::approver);
  REQUIRE(roles->tenants_for(alice, Role::viewer));
  CHECK(*roles->tenants_for(alice, Role::viewer) == std::vector<std::string>{"acme"});
  const auto carol = person(1002, "carol", {});
  CHECK(roles->role_for(carol, "globex") == Role::viewer);
  CHECK_FALSE(roles->tenants_for(carol, Role::viewer));                  // every tenant
  CHECK(roles->role_for(person(1005, "", {}), "acme") == Role::viewer);  // by numeric uid
  CHECK(roles->role_for(person(1003, "dave", {}), "acme") == Role::admin);
  CHECK(roles->role_for(person(0, "root", {}), "acme") == Role::admin);
  CHECK(roles->highest(person(1004, "eve", {"staff"})) == Role::none);
}

TEST_CASE("roles file errors name the place and the reason") {
  auto roles = Roles::parse(R"(roles:
  - users: [alice]
    role: superuser
  - role: viewer
    tenant: [acme]
)",
                            "roles.yaml");
  REQUIRE_FALSE(roles);
  const std::string message = roles.error().message;
  INFO(message);
  CHECK(message.find("roles.yaml:3:11: roles[0]: role \"superuser\" is not admin, approver or viewer") !=
        std::string::npos);
  CHECK(message.find("roles.yaml:5:5: roles[1]: unknown key \"tenant\"") != std::string::npos);
  CHECK(message.find("roles.yaml:4:5: roles[1]: name at least one of users or groups") != std::string::npos);
  CHECK_FALSE(Roles::parse("roles: [", "r.yaml"));
  CHECK(Roles::parse("", "empty.yaml"));
}

TEST_CASE("a tenant's approvals section: defaults, values, errors with positions") {
  auto loaded = policy::parse_policy_texts({{"acme.yaml", R"(apiVersion: agentd/v1
tenant: acme
approvals:
  request_expiry: 5m
  grant_duration: 8h
rules: []
)"}});
  REQUIRE(loaded.ok());
  const auto& settings = policy::approval_settings_of(loaded.policy->find("acme"));
  CHECK(settings.prompt);
  CHECK(settings.request_expiry == std::chrono::minutes(5));
  CHECK(settings.grant_duration == std::chrono::hours(8));
  CHECK(settings.silence_after_deny == std::chrono::minutes(15));
  CHECK(policy::approval_settings_of(nullptr).grant_duration == std::chrono::hours(1));

  auto bad = policy::parse_policy_texts({{"acme.yaml", R"(apiVersion: agentd/v1
tenant: acme
approvals:
  mode: ask
  request_expiry: soon
  grant_lifetime: 1h
)"}});
  REQUIRE_FALSE(bad.ok());
  std::string all;
  for (const auto& e : bad.errors) all += e.str() + "\n";
  INFO(all);
  CHECK(all.find("acme.yaml:4:9: approvals.mode \"ask\" is not prompt or off") != std::string::npos);
  CHECK(all.find("acme.yaml:5:19: approvals.request_expiry: \"soon\" is not a duration") != std::string::npos);
  CHECK(all.find("acme.yaml:6:3: approvals: unknown key \"grant_lifetime\"") != std::string::npos);
}

TEST_CASE("OCSF: a kernel denial is Network Activity, a refused name DNS Activity") {
  events::Denial kernel;
  kernel.time = *parse_time("2024-05-01T12:00:00.250Z");
  kernel.sandbox = "acme/eng/a";
  kernel.process = events::DenialProcess{7, 7, 1000, 1000, "curl", 9};
  kernel.family = "inet";
  kernel.hook = events::DenialHook::connect4;
  kernel.reason = events::DenialReason::no_rule;
  kernel.destination = events::DenialDestination{"198.51.100.20", 8080, "tcp"};
  kernel.host = "api.example.test";
  auto e = ocsf_denial(kernel);
  CHECK(e["class_uid"] == 4001);
  CHECK(e["category_uid"] == 4);
  CHECK(e["activity_id"] == 1);
  CHECK(e["type_uid"] == 400101);
  CHECK(e["time"] == 1714564800250LL);
  CHECK(e["disposition_id"] == 2);
  CHECK(e["action_id"] == 2);
  CHECK(e["dst_endpoint"]["ip"] == "198.51.100.20");
  CHECK(e["dst_endpoint"]["port"] == 8080);
  CHECK(e["dst_endpoint"]["hostname"] == "api.example.test");
  CHECK(e["actor"]["process"]["name"] == "curl");
  CHECK(e["src_endpoint"]["name"] == "acme/eng/a");
  CHECK(e["metadata"]["product"]["name"] == "agentd");

  events::Denial dns;
  dns.time = *parse_time("2024-05-01T12:00:00.000Z");
  dns.sandbox = "acme/eng/a";
  dns.hook = events::DenialHook::dns;
  dns.reason = events::DenialReason::no_rule;
  dns.name = "evil.example";
  dns.query = events::DenialQuery{"A", "udp"};
  auto d = ocsf_denial(dns);
  CHECK(d["class_uid"] == 4003);
  CHECK(d["type_uid"] == 400301);
  CHECK(d["query"]["hostname"] == "evil.example");
  CHECK(d["disposition_id"] == 2);
}

TEST_CASE("OCSF: a decision about a name is DNS Activity, about an address Network Activity") {
  const auto t0 = Clock::from_time_t(1'714'564'800);
  Request name;
  name.id = 5;
  name.target = {"acme/eng/a", "", 0, kNameProtocol, "pypi.org"};
  name.host = "pypi.org";
  name.state = RequestState::approved;
  name.answered_at = t0;
  name.answer = "allow agent for 1h";
  auto n = ocsf_decision(name, std::nullopt);
  CHECK(n["class_uid"] == 4003);
  CHECK(n["type_uid"] == 400399);
  CHECK(n["query"]["hostname"] == "pypi.org");
  CHECK_FALSE(n.contains("dst_endpoint"));
  CHECK(n["action_id"] == 1);
  CHECK(n["message"] == "acme/eng/a -> pypi.org (DNS): allow agent for 1h");

  Request address = name;
  address.target = {"acme/eng/a", "198.51.100.20", 443, "tcp", ""};
  address.state = RequestState::denied;
  auto a = ocsf_decision(address, std::nullopt);
  CHECK(a["class_uid"] == 4001);
  CHECK(a["dst_endpoint"]["ip"] == "198.51.100.20");
  CHECK(a["action_id"] == 2);
}
