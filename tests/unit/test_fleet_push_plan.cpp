// `agentctl policy push`'s transaction, and the snapshot a host makes of
// what etcd holds (what it validates, applies and keeps on disk).
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "agentd/fleet/applied_policy.hpp"
#include "agentd/fleet/policy_snapshot.hpp"
#include "agentd/fleet/push_plan.hpp"
#include "agentd/policy/loader.hpp"
#include "temp_dir.hpp"

using namespace agentd::fleet;

namespace {

const KeyLayout kLayout = *KeyLayout::make("/agentd");

const char* kAcme = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.10/32
        ports: [80]
)";

RangeAnswer held(int64_t revision, std::vector<KeyValue> kvs) {
  RangeAnswer range;
  range.revision = revision;
  range.kvs = std::move(kvs);
  return range;
}

}  // namespace

TEST_CASE("a push writes what changed, deletes what went, and is guarded by the revision read") {
  auto current = held(9, {{"/agentd/policy/tenants/acme.yaml", "old", 4, 0},
                          {"/agentd/policy/tenants/gone.yaml", "x", 4, 0},
                          {"/agentd/policy/tenants/same.yaml", "same", 3, 0},
                          {"/agentd/policy/push", "{}", 4, 0}});
  auto plan = plan_push(current, kLayout, {{"dir/acme.yaml", "new"}, {"dir/same.yaml", "same"}, {"dir/b.yaml", "b"}},
                        {{"dir/presets/p.yaml", "p"}}, "{\"digest\":1}");
  REQUIRE(plan.ok());
  CHECK(plan->base_revision == 9);
  std::vector<std::pair<std::string, std::string>> changes;
  for (const auto& c : plan->changes) changes.emplace_back(change_sign(c.kind), c.key);
  std::sort(changes.begin(), changes.end());
  CHECK(changes == std::vector<std::pair<std::string, std::string>>{{"+", "/agentd/policy/presets/p.yaml"},
                                                                    {"+", "/agentd/policy/tenants/b.yaml"},
                                                                    {"-", "/agentd/policy/tenants/gone.yaml"},
                                                                    {"~", "/agentd/policy/tenants/acme.yaml"}});
  CHECK(plan->txn.deletes == std::vector<std::string>{"/agentd/policy/tenants/gone.yaml"});
  CHECK(plan->txn.puts.back().first == "/agentd/policy/push");  // every push moves the revision
  REQUIRE(plan->txn.compares.size() == 2);
  CHECK(plan->txn.compares[0].key == "/agentd/policy/push");  // no push since
  CHECK(plan->txn.compares[0].result == Compare::Result::equal);
  CHECK(plan->txn.compares[0].value == 4);
  CHECK(plan->txn.compares[1].key == "/agentd/policy/");  // no other write since
  CHECK(plan->txn.compares[1].range_end == "/agentd/policy0");
  CHECK(plan->txn.compares[1].result == Compare::Result::less);
  CHECK(plan->txn.compares[1].value == 10);

  auto against_diff = plan_push(current, kLayout, {{"dir/acme.yaml", "new"}}, {}, "{}", 5, 0);
  REQUIRE(against_diff.ok());
  CHECK(against_diff->txn.compares[0].value == 0);  // no push record at the revision the operator saw
  CHECK(against_diff->txn.compares[1].value == 6);
}

TEST_CASE("a push of what etcd holds changes nothing, and a bad file name is refused") {
  auto current = held(9, {{"/agentd/policy/tenants/acme.yaml", "a", 4, 0}, {"/agentd/policy/push", "{}", 4, 0}});
  auto same = plan_push(current, kLayout, {{"d/acme.yaml", "a"}}, {}, "{}");
  REQUIRE(same.ok());
  CHECK(same->changes.empty());
  CHECK(same->txn.puts.empty());
  CHECK_FALSE(plan_push(current, kLayout, {{"d/a b.yaml", "a"}}, {}, "{}").ok());
}

TEST_CASE("a snapshot refuses a key that is not a policy file, and takes its revision from the newest key") {
  auto good = snapshot_of(held(20, {{"/agentd/policy/tenants/acme.yaml", kAcme, 7, 0},
                                    {"/agentd/policy/presets/p.yaml", "p", 5, 0},
                                    {"/agentd/policy/push", "{}", 7, 0}}),
                          kLayout);
  REQUIRE(good.ok());
  CHECK(good->revision == 7);
  CHECK(good->tenants.size() == 1);
  CHECK(good->presets.size() == 1);
  auto bad = snapshot_of(held(20, {{"/agentd/policy/tenants/../x.yaml", "a", 7, 0}}), kLayout);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("/agentd/policy/tenants/../x.yaml"));
  RangeAnswer partial = held(20, {});
  partial.more = true;
  CHECK_FALSE(snapshot_of(partial, kLayout).ok());
}

TEST_CASE("the applied policy on disk is a policy dir with the same digest as what etcd held") {
  agentd::testing::TempDir dir;
  auto snapshot = *snapshot_of(held(20, {{"/agentd/policy/tenants/acme.yaml", kAcme, 7, 0}}), kLayout);
  CHECK_FALSE(applied_revision(dir.path).has_value());
  REQUIRE(save_applied(dir.path, snapshot).ok());
  CHECK(applied_revision(dir.path) == 7);
  auto from_disk = agentd::policy::load_policy_dir(applied_policy_dir(dir.path));
  auto from_etcd = agentd::policy::parse_policy_texts(snapshot.tenants, snapshot.presets);
  REQUIRE(from_disk.ok());
  REQUIRE(from_etcd.ok());
  CHECK(from_disk.policy->source_digest() == from_etcd.policy->source_digest());

  snapshot.revision = 8;
  snapshot.tenants.clear();  // a push that removed every tenant
  REQUIRE(save_applied(dir.path, snapshot).ok());
  CHECK(applied_revision(dir.path) == 8);
  CHECK_FALSE(std::filesystem::exists(applied_policy_dir(dir.path) / "acme.yaml"));
  CHECK_FALSE(std::filesystem::exists(dir.path / "policy.7"));  // the older one went
}
