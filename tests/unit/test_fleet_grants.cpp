// The fleet's grants without etcd (approval_fleet.cpp, grant_record.hpp):
// two hosts' ApprovalServices share a map standing in for etcd's grants
// prefix. A tenant grant made on host 1 is published, mirrored on host 2
// for its sandboxes, revoked from host 2 everywhere; a key that leaves etcd
// ends the grant; a restored grant etcd lacks ends at the first sync; keys
// that are not a well-formed team or tenant grant are refused by name.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include "agentd/fleet/answer_record.hpp"
#include "agentd/fleet/grant_record.hpp"
#include "approval_harness.hpp"

using agentd::approvals::FleetOrigin;
using agentd::approvals::Grant;
using agentd::fleet::KeyLayout;
using agentd::testing::ApprovalHarness;
using nlohmann::json;

namespace {

const KeyLayout kLayout = *KeyLayout::make("/agentd");

// etcd's grants prefix, as each host's watch would hand it over.
struct FakeEtcd {
  std::map<std::string, std::string> keys;

  void join(ApprovalHarness& host, const std::string& name) {
    host.service().join_fleet({name,
                               [this](const Grant& g) {
                                 keys[kLayout.grant_key(g.origin->host, g.origin->id)] =
                                     agentd::fleet::grant_record_value(g);
                               },
                               [this](const FleetOrigin& o) { keys.erase(kLayout.grant_key(o.host, o.id)); }});
  }
  // What the host's watch does with a read: parse every key, sync.
  agentd::daemon::ApprovalService::FleetSync sync(ApprovalHarness& host) {
    std::vector<Grant> grants;
    for (const auto& [key, value] : keys) {
      auto grant = agentd::fleet::parse_grant_record(kLayout, key, value);
      REQUIRE(grant);
      grants.push_back(*grant);
    }
    return host.service().sync_fleet_grants(grants);
  }
};

size_t entries_for_port(const agentd::testing::MemoryMaps& maps, uint16_t port) {
  size_t n = 0;
  for (const auto& [key, value] : maps.grant_entries)
    if (value.rules.ranges[0].lo == port) ++n;
  return n;
}

json add_grant(ApprovalHarness& host, const std::string& agent, const std::string& dest, const std::string& scope) {
  auto added = host.call({{"method", "grants.add"}, {"agent", agent}, {"dest", dest}, {"scope", scope}, {"for", "1h"}});
  INFO((added ? added->dump() : added.error().describe()));
  REQUIRE(added);
  return (*added)["grant"];
}

}  // namespace

TEST_CASE("a tenant grant made on one host opens on another, and a revoke on either ends it on both") {
  FakeEtcd etcd;
  ApprovalHarness host1({"acme/eng/coder-1"});
  ApprovalHarness host2({"acme/eng/coder-9", "acme/ops/runner", "other/eng/x"});
  etcd.join(host1, "host-1");
  etcd.join(host2, "host-2");

  const json grant = add_grant(host1, "acme/eng/coder-1", "198.51.100.20:8080", "tenant");
  CHECK(grant["fleet"]["host"] == "host-1");
  REQUIRE(etcd.keys.size() == 1);
  CHECK(etcd.keys.begin()->first == "/agentd/grants/host-1/" + std::to_string(grant["id"].get<uint64_t>()));
  CHECK(entries_for_port(host1.maps(), 8080) == 1);
  CHECK(entries_for_port(host2.maps(), 8080) == 0);

  // host 2 mirrors it for its two acme sandboxes, not for other/eng/x.
  CHECK(etcd.sync(host2).adopted == 1);
  CHECK(entries_for_port(host2.maps(), 8080) == 2);
  CHECK(etcd.sync(host1).adopted == 0);  // its own: nothing to mirror
  CHECK(etcd.sync(host2).adopted == 0);  // already mirrored

  // An agent's grant stays its host's.
  add_grant(host1, "acme/eng/coder-1", "198.51.100.21:443", "agent");
  CHECK(etcd.keys.size() == 1);

  // Revoked on host 2 (its mirror): the key goes, and host 1 ends its own.
  auto listed = host2.service().list_grants(host2.root());
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0]["fleet"]["host"] == "host-1");
  auto revoked = host2.call({{"method", "grants.revoke"}, {"id", (*listed)[0]["id"]}});
  REQUIRE(revoked);
  CHECK(etcd.keys.empty());
  CHECK(entries_for_port(host2.maps(), 8080) == 0);
  CHECK(etcd.sync(host1).ended == 1);
  CHECK(entries_for_port(host1.maps(), 8080) == 0);
  CHECK(entries_for_port(host1.maps(), 443) == 1);  // the agent's grant is untouched
}

TEST_CASE("a grant just made is kept until etcd has it, and one restored from the store that etcd lacks ends") {
  FakeEtcd etcd;
  ApprovalHarness host1({"acme/eng/coder-1"});
  etcd.join(host1, "host-1");
  add_grant(host1, "acme/eng/coder-1", "198.51.100.20:8080", "team");
  // A read from before the write got there: the new grant stays.
  const auto written = etcd.keys;
  etcd.keys.clear();
  CHECK(etcd.sync(host1).ended == 0);
  CHECK(entries_for_port(host1.maps(), 8080) == 1);
  // Once etcd held it, its key leaving ends it (revoked on another host).
  etcd.keys = written;
  etcd.sync(host1);
  etcd.keys.clear();
  CHECK(etcd.sync(host1).ended == 1);
  CHECK(entries_for_port(host1.maps(), 8080) == 0);

  // Restored at a restart with etcd lacking it: it ends at the first sync.
  add_grant(host1, "acme/eng/coder-1", "198.51.100.22:8080", "team");
  etcd.keys.clear();
  host1.restart();
  etcd.join(host1, "host-1");
  CHECK(entries_for_port(host1.maps(), 8080) == 1);
  CHECK(etcd.sync(host1).ended == 1);
  CHECK(entries_for_port(host1.maps(), 8080) == 0);
}

TEST_CASE("a mirrored grant over this host's deny rule is not mirrored, and one revoked here is not taken again") {
  FakeEtcd etcd;
  ApprovalHarness host1({"acme/eng/coder-1"}, R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.10/32
)");
  ApprovalHarness host2({"acme/eng/coder-9"});  // its policy denies 198.51.100.66
  etcd.join(host1, "host-1");
  etcd.join(host2, "host-2");
  add_grant(host1, "acme/eng/coder-1", "198.51.100.66:80", "tenant");
  CHECK(etcd.sync(host2).adopted == 0);
  auto status = host2.service().fleet_status();
  CHECK(status["not_mirrored"].size() == 1);
  CHECK_THAT(status["not_mirrored"].begin().value().get<std::string>(), Catch::Contains("denies"));
  CHECK(host2.maps().grant_entries.empty());
}

TEST_CASE("etcd keys that are not a well-formed team or tenant grant are refused, naming the key and why") {
  Grant g;
  g.scope = agentd::approvals::Scope::tenant;
  g.subject = "acme";
  g.address = "198.51.100.20";
  g.port = 80;
  g.protocol = "tcp";
  g.created_by = "root (uid 0)";
  g.created_at = agentd::approvals::Clock::now();
  const std::string good = agentd::fleet::grant_record_value(g);
  const auto parsed = agentd::fleet::parse_grant_record(kLayout, "/agentd/grants/host-1/7", good);
  REQUIRE(parsed);
  CHECK(parsed->origin == FleetOrigin{"host-1", 7});
  CHECK(parsed->id == 0);

  auto refused = [&](const std::string& key, const std::string& value, const std::string& why) {
    auto r = agentd::fleet::parse_grant_record(kLayout, key, value);
    INFO(key << " " << value);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().describe(), Catch::Contains(why));
  };
  const std::string key = "/agentd/grants/host-1/7";
  refused("/agentd/grants/host-1", good, "not <host>/<id>");
  refused("/agentd/grants/../7", good, "host part");
  refused("/agentd/grants/host-1/07x", good, "id part");
  refused("/agentd/grants/host-1/0", good, "id part");
  refused(key, "[1]", "not a JSON object");
  refused(key, "{\"scope\":", "not a JSON object");
  refused(key, std::string(agentd::fleet::kMaxGrantRecordBytes + 1, ' '), "larger than");
  auto with = [&](const char* field, json value) {
    auto j = json::parse(good);
    j[field] = std::move(value);
    return j.dump();
  };
  refused(key, with("scope", "agent"), "the fleet's");
  refused(key, with("scope", "galaxy"), "unknown scope");
  refused(key, with("subject", "acme/eng"), "not a tenant name");
  refused(key, with("subject", "Acme"), "not a tenant name");
  refused(key, with("dest", "198.51.100.0/24"), "not one address");
  refused(key, with("dest", "not-an-address"), "not one address");
  refused(key, with("protocol", "sctp"), "sctp");
  refused(key, with("port", 0), "needs a port");
  refused(key, with("port", 70000), "not 0-65535");
  refused(key, with("created_by", std::string(300, 'a')), "longer than 256");
  auto name = json::parse(good);
  name["protocol"] = "dns";
  name["dest"] = "";
  name["port"] = 0;
  name["host"] = "Evil..Name";
  refused(key, name.dump(), "host name");
  // A value claiming another origin: the key decides.
  auto spoof = json::parse(good);
  spoof["fleet"] = {{"host", "host-9"}, {"id", 1}};
  auto taken = agentd::fleet::parse_grant_record(kLayout, key, spoof.dump());
  REQUIRE(taken);
  CHECK(taken->origin == FleetOrigin{"host-1", 7});
}

TEST_CASE("an answer through etcd is read strictly: the method, who, the fields, and the key's id") {
  using agentd::fleet::parse_answer_record;
  agentd::api::ApprovalsAnswerRequest request{7, true, {}};
  request.terms.scope = "team";
  const std::string good = agentd::fleet::answer_record_value({request, "alice (uid 1000) on ops-1"});
  auto parsed = parse_answer_record(kLayout, "host-2", "/agentd/answers/host-2/7", good);
  REQUIRE(parsed);
  CHECK(parsed->request == request);
  CHECK(parsed->by == "alice (uid 1000) on ops-1");

  auto refused = [&](const std::string& key, const std::string& value, const std::string& why) {
    auto r = parse_answer_record(kLayout, "host-2", key, value);
    INFO(key << " " << value);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().describe(), Catch::Contains(why));
  };
  refused("/agentd/answers/host-1/7", good, "not under /agentd/answers/host-2/");
  refused("/agentd/answers/host-2/8", good, "another request");
  refused("/agentd/answers/host-2/7", "nope", "not a JSON object");
  refused("/agentd/answers/host-2/7", std::string(5000, ' '), "larger than");
  auto with = [&](const char* field, json value) {
    auto j = json::parse(good);
    j[field] = std::move(value);
    return j.dump();
  };
  refused("/agentd/answers/host-2/7", with("method", "policy.apply"), "method");
  refused("/agentd/answers/host-2/7", with("by", ""), "by:");
  refused("/agentd/answers/host-2/7", with("by", 3), "by:");
  refused("/agentd/answers/host-2/7", with("scope", 3), "scope");
  refused("/agentd/answers/host-2/7", with("id", "7"), "id");
}
