// The fleet (issue 18): agentd follows the policy in a real three-member
// etcd cluster. A push is enforced; a policy that does not validate is
// refused with the running one kept and the refusal visible; a push against
// a stale revision is refused; a restart while etcd is gone enforces the
// last applied policy; a first start with no policy (etcd empty or
// unreachable) refuses; the etcd leader killed during a push, and a host
// cut off and healed. Tagged kernel-neutral: what the kernel does with
// a policy is the same whichever source it came from (tested on both).
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "etcd_cluster.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "hosts.hpp"
#include "tmux.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

const std::string kAgent = "acme/eng/coder-1";

// kSwitchPolicyA lets every agent reach 198.51.100.20:8080 but not :80;
// kSwitchPolicyB lets eng reach 198.51.100.20:80 but not :8080.
void expect_policy_a(const World& world) {
  expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "8080"}));
  expect_refused(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "80"}));
}

void expect_policy_b(const World& world) {
  expect_ok(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "80"}));
  expect_refused(world.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "8080"}));
}

// A policy dir of its own for each version pushed.
std::string policy_dir(const World& world, const std::string& name, const char* acme) {
  const auto dir = world.dir() / name;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "acme.yaml") << acme;
  return dir.string();
}

// `agentctl policy push DIR`; the revision it wrote.
int64_t push(const World& world, const EtcdCluster& etcd, const std::string& dir) {
  auto result = world.agentctl({"policy", "push", dir, "--etcd-endpoints", etcd.endpoints(), "-o", "json"});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  json answer = json::parse(result.out);
  REQUIRE(answer["pushed"] == true);
  return answer["revision"].get<int64_t>();
}

// A part of agentd's status: policy.fleet, approvals.fleet_grants.
json status_part(const World& world, const char* section, const char* part) {
  auto result = world.agentctl({"status", "-o", "json"});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  return json::parse(result.out)[section][part];
}

json fleet_of(const World& world) { return status_part(world, "policy", "fleet"); }

// Waits (bounded) until that part of agentd's status satisfies `done`.
json wait_for_status(const World& world, const char* section, const char* part,
                     const std::function<bool(const json&)>& done) {
  json seen;
  for (int i = 0; i < 500; ++i) {
    seen = status_part(world, section, part);
    if (done(seen)) return seen;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  INFO(seen.dump(2));
  FAIL("agentd's status (" << section << "." << part << ") did not get there in 10 s");
  return seen;
}

json wait_for_fleet(const World& world, const std::function<bool(const json&)>& done) {
  return wait_for_status(world, "policy", "fleet", done);
}

json wait_for_grants(const World& world, const std::function<bool(const json&)>& done) {
  return wait_for_status(world, "approvals", "fleet_grants", done);
}

std::vector<std::string> etcd_args(const EtcdCluster& etcd) {
  return {"--policy-source", "etcd", "--etcd-endpoints", etcd.endpoints(), "--etcd-host-name", "host-1"};
}

}  // namespace

TEST_CASE("fleet: pushes through etcd are enforced, bad and stale ones refused, the last policy outlives etcd",
          "[kernel-neutral]") {
  World world;
  EtcdCluster etcd(world);
  const std::string dir_a = policy_dir(world, "policy-a", kSwitchPolicyA);
  const std::string dir_b = policy_dir(world, "policy-b", kSwitchPolicyB);
  const int64_t rev_a = push(world, etcd, dir_a);
  REQUIRE(world.start_agentd(etcd_args(etcd)));
  CHECK(fleet_of(world)["applied_revision"] == rev_a);
  expect_policy_a(world);

  // A push is applied through the watch.
  const int64_t rev_b = push(world, etcd, dir_b);
  wait_for_fleet(world, [&](const json& f) { return f["applied_revision"] == rev_b; });
  expect_policy_b(world);

  // Another writer puts a policy that does not validate: refused whole,
  // the running policy stays, and the refusal names the key.
  auto broken = etcd.etcdctl({"put", "/agentd/policy/tenants/acme.yaml", "apiVersion: agentd/v1\ntenant: [acme\n"});
  REQUIRE(broken.exit_code == 0);
  json refused = wait_for_fleet(world, [](const json& f) { return f["last_refusal"].is_object(); });
  CHECK(refused["applied_revision"] == rev_b);
  CHECK_THAT(refused["last_refusal"]["error"].get<std::string>(), Catch::Contains("/agentd/policy/tenants/acme.yaml"));
  auto status = world.agentctl({"status"});
  CHECK_THAT(status.out, Catch::Contains("last reload refused"));
  CHECK_THAT(status.out, Catch::Contains("fleet: host host-1"));
  expect_policy_b(world);
  // A key that is no policy file name (it could name a path on the host).
  REQUIRE(etcd.etcdctl({"put", "/agentd/policy/tenants/../../x.yaml", "a"}).exit_code == 0);
  refused = wait_for_fleet(world, [](const json& f) {
    return f["last_refusal"].is_object() &&
           f["last_refusal"]["error"].get<std::string>().find("not a policy file name") != std::string::npos;
  });
  REQUIRE(etcd.etcdctl({"del", "/agentd/policy/tenants/../../x.yaml"}).exit_code == 0);
  expect_policy_b(world);

  // The whole prefix deleted (etcd wiped, a wrong prefix): no policy, not
  // a policy that denies everything.
  REQUIRE(etcd.etcdctl({"del", "--prefix", "/agentd/policy/"}).exit_code == 0);
  wait_for_fleet(world, [](const json& f) {
    return f["last_refusal"].is_object() &&
           f["last_refusal"]["error"].get<std::string>().find("holds no policy") != std::string::npos;
  });
  expect_policy_b(world);

  // A push against the revision it diffed (rev_b) after etcd moved on: refused.
  auto stale = world.agentctl(
      {"policy", "push", dir_a, "--base-revision", std::to_string(rev_b), "--etcd-endpoints", etcd.endpoints()});
  INFO(stale.describe());
  CHECK(stale.exit_code == 1);
  CHECK_THAT(stale.err, Catch::Contains("push refused"));
  expect_policy_b(world);

  // A good push again: applied, the refusal cleared, the host converged.
  const int64_t rev_b2 = push(world, etcd, dir_b);
  wait_for_fleet(world, [&](const json& f) { return f["applied_revision"] == rev_b2 && f["last_refusal"].is_null(); });
  json fleet;
  for (int i = 0; i < 250; ++i) {
    auto result = world.agentctl({"fleet", "status", "--etcd-endpoints", etcd.endpoints(), "-o", "json"});
    REQUIRE(result.exit_code == 0);
    fleet = json::parse(result.out);
    if (fleet["converged"] == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  INFO(fleet.dump(2));
  CHECK(fleet["revision"] == rev_b2);
  CHECK(fleet["total"] == 1);
  CHECK(fleet["converged"] == 1);
  CHECK(fleet["hosts"][0]["host"] == "host-1");

  // agentd restarts while etcd is gone: the last applied policy, not
  // nothing and not everything.
  world.kill_agentd(SIGTERM);
  etcd.stop_all();
  REQUIRE(world.start_agentd(etcd_args(etcd)));
  json offline = fleet_of(world);
  CHECK(offline["applied_revision"] == rev_b2);
  CHECK(offline["connected"] == false);
  expect_policy_b(world);
  CHECK(world.stray_packets() == 0);
  // It stops promptly with etcd gone: its etcd calls are aborted, not waited out.
  const auto stopping = std::chrono::steady_clock::now();
  world.kill_agentd(SIGTERM);
  const auto stop_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stopping).count();
  CHECK(world.agentd_exit_code() == 0);
  CHECK(stop_ms < 3000);
}

TEST_CASE("fleet: a first start with no applied policy and no etcd refuses to start (fail closed)",
          "[kernel-neutral]") {
  World world;
  {
    // etcd answers but holds no policy: refused too, at once.
    EtcdCluster empty(world, {1, "127.0.0.1", std::nullopt});
    REQUIRE_FALSE(world.start_agentd({"--policy-source", "etcd", "--etcd-endpoints", empty.endpoints()}));
    CHECK_THAT(world.agentd_log(), Catch::Contains("holds no policy"));
  }
  // Nothing listens there, in the world's own namespace.
  REQUIRE_FALSE(world.start_agentd({"--policy-source", "etcd", "--etcd-endpoints", "http://127.0.0.1:23799"}));
  CHECK(world.agentd_exit_code() != 0);
  CHECK_THAT(world.agentd_log(), Catch::Contains("refusing to start"));
}

// Two agent hosts linked on 192.0.2.0/24, a three-member etcd at
// host1's end, policy A pushed and enforced on both; policy B ready.
struct TwoHosts {
  World host1;
  World host2;
  EtcdCluster etcd;
  std::string dir_a, dir_b;
  // The link comes first: etcd listens at host1's end of it.
  TwoHosts()
      : etcd((link_hosts(host1, host2), host1), {3, "192.0.2.1", std::nullopt}),
        dir_a(policy_dir(host1, "policy-a", kSwitchPolicyA)),
        dir_b(policy_dir(host1, "policy-b", kSwitchPolicyB)) {
    push(host1, etcd, dir_a);
    auto args = etcd_args(etcd);
    REQUIRE(host1.start_agentd(args));
    args.back() = "host-2";
    REQUIRE(host2.start_agentd(args));
    expect_policy_a(host1);
    expect_policy_a(host2);
  }
};

TEST_CASE("fleet: two hosts, each with its own namespace, cgroup root, bpffs and state, converge on one push",
          "[kernel-neutral]") {
  TwoHosts hosts;
  auto& [host1, host2, etcd, dir_a, dir_b] = hosts;

  const auto pushed = std::chrono::steady_clock::now();
  const int64_t rev_b = push(host1, etcd, dir_b);
  json fleet;
  for (int i = 0; i < 500; ++i) {
    auto result = host1.agentctl({"fleet", "status", "--etcd-endpoints", etcd.endpoints(), "-o", "json"});
    REQUIRE(result.exit_code == 0);
    fleet = json::parse(result.out);
    if (fleet["revision"] == rev_b && fleet["converged"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto converged_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - pushed).count();
  INFO(fleet.dump(2));
  REQUIRE(fleet["converged"] == 2);
  REQUIRE(fleet["total"] == 2);
  WARN("two hosts converged " << converged_ms << " ms after the push returned (reported through etcd)");
  expect_policy_b(host1);
  expect_policy_b(host2);
  CHECK(fleet_of(host1)["applied_revision"] == rev_b);
  CHECK(fleet_of(host2)["applied_revision"] == rev_b);

  // A policy that does not validate, written past push: refused whole by
  // both hosts, each keeping policy B and saying why; fleet status names
  // both as behind.
  auto broken = etcd.etcdctl({"put", "/agentd/policy/tenants/acme.yaml", "apiVersion: agentd/v1\ntenant: [acme\n"});
  INFO(broken.describe());
  REQUIRE(broken.exit_code == 0);
  for (const World* host : {&host1, &host2}) {
    json refused = wait_for_fleet(*host, [](const json& f) { return f["last_refusal"].is_object(); });
    CHECK_THAT(refused["last_refusal"]["error"].get<std::string>(), Catch::Contains("acme.yaml"));
    CHECK(refused["applied_revision"] == rev_b);
    expect_policy_b(*host);
  }
  auto listed = host1.agentctl({"fleet", "status", "--etcd-endpoints", etcd.endpoints(), "-o", "json"});
  REQUIRE(listed.exit_code == 0);
  fleet = json::parse(listed.out);
  INFO(fleet.dump(2));
  CHECK(fleet["converged"] == 0);
  CHECK(fleet["total"] == 2);
}

TEST_CASE("fleet: etcd over TLS with a client certificate", "[kernel-neutral]") {
  World world;
  const auto certs = make_test_certificates(world.dir());
  EtcdCluster etcd(world, {1, "127.0.0.1", certs});
  const std::vector<std::string> tls = {"--etcd-ca",       certs.ca,     "--etcd-cert",
                                        certs.client_cert, "--etcd-key", certs.client_key};
  const std::string dir_a = policy_dir(world, "policy-a", kSwitchPolicyA);
  // No client certificate: etcd refuses, nothing is written.
  auto anonymous =
      world.agentctl({"policy", "push", dir_a, "--etcd-endpoints", etcd.endpoints(), "--etcd-ca", certs.ca});
  INFO(anonymous.describe());
  CHECK(anonymous.exit_code == 1);
  std::vector<std::string> push = {"policy", "push", dir_a, "--etcd-endpoints", etcd.endpoints()};
  push.insert(push.end(), tls.begin(), tls.end());
  auto pushed = world.agentctl(push);
  INFO(pushed.describe());
  REQUIRE(pushed.exit_code == 0);
  auto args = etcd_args(etcd);
  args.insert(args.end(), tls.begin(), tls.end());
  REQUIRE(world.start_agentd(args));
  expect_policy_a(world);
  json fleet = wait_for_fleet(world, [](const json& f) { return f["connected"] == true; });
  CHECK(fleet["last_refusal"].is_null());
}

TEST_CASE("fleet: a push survives the etcd leader's death, and a partitioned host keeps its policy and catches up",
          "[kernel-neutral]") {
  TwoHosts hosts;
  auto& [host1, host2, etcd, dir_a, dir_b] = hosts;

  // The leader dies as the push is under way: the push is applied whole
  // or refused whole (then pushed again), never half; the two members
  // left carry it to both hosts.
  const int leader = etcd.leader();
  const pid_t pushing = host1.spawn_in_host(
      {agentctl_bin(), "policy", "push", dir_b, "--etcd-endpoints", etcd.endpoints(), "-o", "json"}, "push-b");
  etcd.stop_member(leader);
  auto pushed = host1.wait_spawned(pushing, "push-b");
  INFO(pushed.describe());
  if (pushed.exit_code != 0) expect_policy_a(host1);  // refused: nothing of it applied
  for (int i = 0; i < 50 && pushed.exit_code != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a new leader is being elected
    pushed = host1.agentctl({"policy", "push", dir_b, "--etcd-endpoints", etcd.endpoints(), "-o", "json"});
  }
  REQUIRE(pushed.exit_code == 0);
  const int64_t rev_b = json::parse(pushed.out)["revision"].get<int64_t>();
  for (const World* host : {&host1, &host2})
    wait_for_fleet(*host, [&](const json& f) { return f["applied_revision"] == rev_b; });
  expect_policy_b(host1);
  expect_policy_b(host2);

  // host2 cut off from etcd (its link down): a push reaches host1 only;
  // host2 keeps enforcing what it had, then catches up once the link is back.
  auto cut = run_process({"ip", "-n", host2.host_ns_name(), "link", "set", "fleet1", "down"});
  REQUIRE(cut.exit_code == 0);
  const int64_t rev_c = push(host1, etcd, dir_a);
  wait_for_fleet(host1, [&](const json& f) { return f["applied_revision"] == rev_c; });
  expect_policy_a(host1);
  expect_policy_b(host2);
  CHECK(fleet_of(host2)["applied_revision"] == rev_b);
  // Its lease runs out: fleet status lists it as unreachable, since when,
  // and behind; a live host cannot be forgotten.
  json status;
  json silent;
  for (int i = 0; i < 300 && silent.is_null(); ++i) {
    auto listed = host1.agentctl({"fleet", "status", "--etcd-endpoints", etcd.endpoints(), "-o", "json"});
    REQUIRE(listed.exit_code == 0);
    status = json::parse(listed.out);
    for (const auto& h : status["hosts"])
      if (h["host"] == "host-2" && h["state"] == "unreachable") silent = h;
    if (silent.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(status.dump(2));
  REQUIRE(silent.is_object());
  CHECK(silent["converged"] == false);
  CHECK(silent["silent_s"].get<int64_t>() >= 0);
  CHECK(status["total"] == 2);
  CHECK(status["converged"] == 1);
  auto text = host1.agentctl({"fleet", "status", "--etcd-endpoints", etcd.endpoints()});
  CHECK_THAT(text.out, Catch::Contains("host-2") && Catch::Contains("unreachable"));
  auto forget_live = host1.agentctl({"fleet", "forget", "host-1", "--etcd-endpoints", etcd.endpoints()});
  CHECK(forget_live.exit_code == 1);
  CHECK_THAT(forget_live.err, Catch::Contains("is live"));
  auto healed = run_process({"ip", "-n", host2.host_ns_name(), "link", "set", "fleet1", "up"});
  REQUIRE(healed.exit_code == 0);
  // Bounded: the watch is renewed with a quorum read every 30 s at most.
  json fleet;
  for (int i = 0; i < 600; ++i) {
    fleet = fleet_of(host2);
    if (fleet["applied_revision"] == rev_c) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(fleet.dump(2));
  REQUIRE(fleet["applied_revision"] == rev_c);
  expect_policy_a(host2);
}

namespace {

json grants_list(const World& world) {
  auto result = world.agentctl({"grants", "list", "-o", "json"});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  return json::parse(result.out);
}

json add_tenant_grant(const World& world, const std::string& dest, const std::string& duration) {
  auto result = world.agentctl(
      {"grants", "add", "--agent", kAgent, "--dest", dest, "--scope", "tenant", "--for", duration, "-o", "json"});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  return json::parse(result.out)["grant"];
}

}  // namespace

TEST_CASE("fleet: a tenant grant made on one host is enforced on the other, revoked everywhere, and expires cut off",
          "[kernel-neutral]") {
  TwoHosts hosts;
  auto& [host1, host2, etcd, dir_a, dir_b] = hosts;
  const std::string other_team = "acme/ops/runner";  // the tenant's, not the grant's agent's team
  expect_refused(host2.netprobe_in_sandbox(other_team, {"connect", "tcp", "198.51.100.20", "80"}));

  // Made on host 1: published, mirrored by host 2, open there for every
  // agent of the tenant.
  const json grant = add_tenant_grant(host1, "198.51.100.20:80", "1h");
  CHECK(grant["fleet"]["host"] == "host-1");
  wait_for_grants(host2, [](const json& g) { return g["mirrored"] == 1; });
  expect_ok(host1.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "80"}));
  expect_ok(host2.netprobe_in_sandbox(other_team, {"connect", "tcp", "198.51.100.20", "80"}));
  expect_ok(host2.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "80"}));
  auto etcd_keys = etcd.etcdctl({"get", "--prefix", "--keys-only", "/agentd/grants/"});
  CHECK_THAT(etcd_keys.out, Catch::Contains("/agentd/grants/host-1/" + std::to_string(grant["id"].get<uint64_t>())));

  // Revoked on host 2 (its mirror): gone from etcd, ended on host 1 too.
  const json mirrored = grants_list(host2);
  REQUIRE(mirrored.size() == 1);
  CHECK(mirrored[0]["fleet"]["host"] == "host-1");
  auto revoked = host2.agentctl({"grants", "revoke", std::to_string(mirrored[0]["id"].get<uint64_t>())});
  INFO(revoked.describe());
  REQUIRE(revoked.exit_code == 0);
  wait_for_grants(host1, [](const json& g) { return g["published"] == 0; });
  CHECK(grants_list(host1).empty());
  expect_refused(host1.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "80"}));
  expect_refused(host2.netprobe_in_sandbox(other_team, {"connect", "tcp", "198.51.100.20", "80"}));
  CHECK(etcd.etcdctl({"get", "--prefix", "--keys-only", "/agentd/grants/"}).out.find("host-1/") == std::string::npos);

  // A short grant reaches host 2, then host 2 is cut off from etcd: its
  // deadline still holds there, with nobody to tell it.
  add_tenant_grant(host1, "198.51.100.20:443", "6s");
  wait_for_grants(host2, [](const json& g) { return g["mirrored"] == 1; });
  auto cut = run_process({"ip", "-n", host2.host_ns_name(), "link", "set", "fleet1", "down"});
  REQUIRE(cut.exit_code == 0);
  expect_ok(host2.netprobe_in_sandbox(other_team, {"connect", "tcp", "198.51.100.20", "443"}));
  json left = grants_list(host2);
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    left = grants_list(host2);
  }
  INFO(left.dump(2));
  REQUIRE(left.empty());
  expect_refused(host2.netprobe_in_sandbox(other_team, {"connect", "tcp", "198.51.100.20", "443"}));
  auto healed = run_process({"ip", "-n", host2.host_ns_name(), "link", "set", "fleet1", "up"});
  REQUIRE(healed.exit_code == 0);
  // Both hosts still serve.
  expect_policy_a(host1);
  expect_policy_a(host2);
}

TEST_CASE("fleet: watch --fleet shows a request of another host and its answer reaches that host, bad answers refused",
          "[kernel-neutral]") {
  TwoHosts hosts;
  auto& [host1, host2, etcd, dir_a, dir_b] = hosts;
  // The operator's prompt on host 1, reading etcd (in host 1's namespace,
  // where etcd listens).
  // A request key written by hand, of the wrong shape: not shown, and the
  // prompt does not fall over it.
  auto bogus =
      etcd.etcdctl({"put", "/agentd/requests/host-9/1", R"({"id":1,"sandbox":"acme/eng/x","process":7,"count":"x"})"});
  REQUIRE(bogus.exit_code == 0);
  Tmux tmux(host1);
  tmux.start("fleet", "nsenter --net=" + host1.host_ns_path() + " " + agentctl_bin() +
                          " watch --fleet --etcd-endpoints " + etcd.endpoints());
  // TwoHosts left one refused connect on each host (198.51.100.20:80):
  // both requests are on host 1's prompt, host 1's first; skipped, host
  // 2's comes up.
  std::string screen = tmux.wait_for("fleet", "2 pending");
  INFO(screen);
  REQUIRE(screen.find("2 pending") != std::string::npos);
  CHECK(screen.find("request host-1/") != std::string::npos);
  CHECK(screen.find("host-9") == std::string::npos);
  tmux.keys("fleet", "s");
  screen = tmux.wait_for("fleet", "request host-2/");
  INFO(screen);
  REQUIRE(screen.find("request host-2/") != std::string::npos);
  CHECK(screen.find("198.51.100.20:80/tcp") != std::string::npos);
  CHECK(screen.find(kAgent) != std::string::npos);

  // Allowed for the tenant from there: host 2 takes the answer, the grant
  // it makes is the fleet's, and host 1 mirrors it.
  tmux.keys("fleet", "n");
  json taken = wait_for_fleet(host2, [](const json& f) { return f["grants"]["answers_taken"] == 1; });
  CHECK(taken["grants"]["answers_refused"] == 0);
  expect_ok(host2.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "80"}));
  wait_for_grants(host1, [](const json& g) { return g["mirrored"] == 1; });
  expect_ok(host1.netprobe_in_sandbox("acme/ops/runner", {"connect", "tcp", "198.51.100.20", "80"}));
  const json grants = grants_list(host2);
  REQUIRE(grants.size() == 1);
  CHECK_THAT(grants[0]["created_by"].get<std::string>(), Catch::StartsWith("fleet: "));
  // Both requests settled: host 2's by the answer, host 1's by the mirror.
  screen = tmux.wait_for("fleet", "waiting for requests");
  INFO(screen);
  CHECK(screen.find("settled on host-2") != std::string::npos);
  CHECK(screen.find("settled on host-1") != std::string::npos);
  const std::string requests_left = etcd.etcdctl({"get", "--prefix", "--keys-only", "/agentd/requests/"}).out;
  CHECK(requests_left.find("host-1/") == std::string::npos);
  CHECK(requests_left.find("host-2/") == std::string::npos);

  // Answers written by hand: for no such request, not JSON, under another
  // request's id. Each is refused, deleted, and agentd still serves.
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"/agentd/answers/host-2/999", R"({"method":"approvals.approve","id":999,"by":"mallory"})"},
           {"/agentd/answers/host-2/998", "not json"},
           {"/agentd/answers/host-2/997", R"({"method":"approvals.approve","id":1,"by":"mallory"})"},
           {"/agentd/answers/host-2/996", R"({"method":"policy.apply","id":996,"by":"mallory"})"}}) {
    auto put = etcd.etcdctl({"put", key, value});
    INFO(put.describe());
    REQUIRE(put.exit_code == 0);
  }
  json refused = wait_for_fleet(host2, [](const json& f) { return f["grants"]["answers_refused"] == 4; });
  CHECK(refused["grants"]["answers_taken"] == 1);
  for (int i = 0; i < 100; ++i) {
    if (etcd.etcdctl({"get", "--prefix", "--keys-only", "/agentd/answers/"}).out.find("answers") == std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(etcd.etcdctl({"get", "--prefix", "--keys-only", "/agentd/answers/"}).out.find("answers") == std::string::npos);
  // Still serving (port 80 is open now: the tenant's grant).
  expect_ok(host2.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "8080"}));
  expect_refused(host2.netprobe_in_sandbox(kAgent, {"connect", "tcp", "198.51.100.20", "9000"}));
  tmux.keys("fleet", "q");
}
