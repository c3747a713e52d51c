// Fair under abuse, the control socket: a sandbox that reaches it (one
// adopted, or entered by root) is closed at accept and holds none of
// agentd's descriptors; any one uid holds a bounded number of connections,
// so a flooding client costs only itself and root is still served.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

json last_json_line(const std::string& text) {
  const auto end = text.find_last_not_of('\n');
  if (end == std::string::npos) return nullptr;
  const auto start = text.rfind('\n', end);
  return json::parse(text.substr(start == std::string::npos ? 0 : start + 1, end + 1), nullptr, false);
}

// Runs `script` on the host: its stdout is `agentctl status -o json`,
// read while what the script started holds the socket.
json status_while(const World& world, const std::string& script) {
  auto run = world.in_host({"sh", "-c", script});
  INFO(run.describe());
  REQUIRE(run.exit_code == 0);
  auto status = json::parse(run.out, nullptr, false);
  REQUIRE(status.is_object());
  return status;
}

}  // namespace

TEST_CASE("a sandbox flooding the control socket is closed at accept and holds none of agentd's descriptors") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
  expect_refused(connect_from(world, "acme/eng/coder-1", "198.51.100.20", 8080));  // the sandbox exists

  // Root inside the sandbox's cgroup, past the hidden directory: 2,000 connections, not a word sent.
  const auto cgroup = world.cgroup_root() / "acme" / "eng" / "coder-1";
  auto flood = world.in_cgroup(cgroup, {SYSPROBE_BIN, "hold-control", world.socket().string(), "2000"});
  INFO(flood.describe());
  auto held = last_json_line(flood.out);
  REQUIRE(held.is_object());
  CHECK(held["connected"] == 2000);
  CHECK(held["refused"] == 2000);  // each told why at once, none kept
  CHECK(held["kept"] == 0);
  CHECK(held.value("refusal", "").find("requests from inside a sandbox are refused") != std::string::npos);

  auto status = agentctl_json(world, {"status"});
  REQUIRE(status.is_object());
  CHECK(status["control"]["refused_in_sandbox"].get<uint64_t>() >= 2000);
  CHECK(status["control"]["clients"].get<uint64_t>() <= 1);  // this status call
  CHECK(status["control"]["open_file_limit"].get<uint64_t>() >= 1024);
  // The flood is logged once per thousand, not once per connection.
  const std::string log = world.agentd_log();
  size_t lines = 0;
  for (auto at = log.find("at accept"); at != std::string::npos; at = log.find("at accept", at + 1)) ++lines;
  CHECK(lines >= 1);
  CHECK(lines <= 3);
}

TEST_CASE("one uid at its control connection limit costs only itself", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  // A uid in the socket's group, with no role: it may connect, it is never served.
  const std::string socket_group = "47711", flooder = "47703";
  std::filesystem::permissions(world.dir(), std::filesystem::perms::owner_all | std::filesystem::perms::others_exec |
                                                std::filesystem::perms::group_exec);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd({"--socket-group", socket_group}));

  const auto out = world.dir() / "hold.out", done = world.dir() / "hold.done";
  const std::string script = "setpriv --reuid=" + flooder + " --regid=" + flooder + " --groups=" + socket_group + " '" +
                             SYSPROBE_BIN + "' hold-control '" + world.socket().string() + "' 300 '" + done.string() +
                             "' > '" + out.string() + "' & i=0; until grep -q connected '" + out.string() +
                             "' || [ $i -ge 400 ]; do i=$((i+1)); sleep 0.05; done; '" + agentctl_bin() +
                             "' --socket '" + world.socket().string() + "' status -o json; rc=$?; touch '" +
                             done.string() + "'; wait; exit $rc";
  // Root was served while the flooder held all it may hold.
  const json during = status_while(world, script);
  const auto limit = during["control"]["limits"]["per_uid"].get<uint64_t>();
  CHECK(limit == 64);
  // What the flooder held while root was served: never past its limit.
  CHECK(during["control"]["clients"].get<uint64_t>() <= limit + 1);
  CHECK(during["control"]["refused_over_limit"].get<uint64_t>() >= 1);
  CHECK(during["control"]["refused_no_role"].get<uint64_t>() >= limit);  // those it holds have no role

  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto held = last_json_line(text);
  INFO(text);
  REQUIRE(held.is_object());
  CHECK(held["connected"] == 300);
  // Each was turned away with the reason, held, or (held past the 5 s a
  // silent client gets, as on a slow machine) closed; never more than the
  // limit held at once.
  const auto refused = held["refused"].get<uint64_t>(), kept = held["kept"].get<uint64_t>(),
             closed = held["closed"].get<uint64_t>();
  CHECK(refused + kept + closed == 300);
  CHECK(refused >= 1);
  CHECK(kept <= limit);
  CHECK(kept + closed >= limit);
  CHECK(held.value("refusal", "").find("holds 64 control connections, the limit per uid") != std::string::npos);
  CHECK(world.agentctl({"status"}).exit_code == 0);
  // Every one of them was refused for want of a role: said once, not 64 times.
  const std::string log = world.agentd_log();
  size_t lines = 0;
  for (auto at = log.find("has no role"); at != std::string::npos; at = log.find("has no role", at + 1)) ++lines;
  CHECK(lines == 1);
}

TEST_CASE("one uid at its subscription limit cannot open another but another uid still can", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  // Two uids in the socket's group, both viewers: they may watch.
  const std::string socket_group = "47711", watcher = "47705", other = "47706";
  std::filesystem::permissions(world.dir(), std::filesystem::perms::owner_all | std::filesystem::perms::others_exec |
                                                std::filesystem::perms::group_exec);
  const auto roles = world.dir() / "roles.yaml";
  std::ofstream(roles) << "roles:\n  - users: [\"" << watcher << "\", \"" << other << "\"]\n    role: viewer\n";
  std::filesystem::permissions(roles, std::filesystem::perms::owner_read | std::filesystem::perms::others_read);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd({"--socket-group", socket_group, "--roles", roles.string()}));

  const auto out = world.dir() / "watch.out", other_out = world.dir() / "watch-other.out",
             done = world.dir() / "watch.done";
  auto as = [&](const std::string& uid) {
    return "setpriv --reuid=" + uid + " --regid=" + uid + " --groups=" + socket_group + " '" + SYSPROBE_BIN +
           "' hold-watch '" + world.socket().string() + "' ";
  };
  auto wait_for = [](const std::filesystem::path& file) {  // bounded: 20 s
    return "i=0; until grep -q subscribed '" + file.string() + "' || [ $i -ge 400 ]; do i=$((i+1)); sleep 0.05; done; ";
  };
  // The watcher asks for one more than its limit and holds what it got;
  // then the other uid asks for one; root's status is read while both hold.
  const std::string script = as(watcher) + "17 '" + done.string() + "' > '" + out.string() + "' & " + wait_for(out) +
                             as(other) + "1 '" + done.string() + "' > '" + other_out.string() + "' & " +
                             wait_for(other_out) + "'" + agentctl_bin() + "' --socket '" + world.socket().string() +
                             "' status -o json; rc=$?; touch '" + done.string() + "'; wait; exit $rc";
  const json during = status_while(world, script);
  const auto limit = during["control"]["limits"]["subscriptions_per_uid"].get<uint64_t>();
  CHECK(limit == 16);
  // Status shows them: the watcher's 16 and the other uid's one.
  CHECK(during["control"]["subscriptions"].get<uint64_t>() == limit + 1);
  CHECK(during["approvals"]["watchers"].get<uint64_t>() == limit + 1);
  CHECK(during["control"]["refused_over_limit"].get<uint64_t>() == 1);

  auto read_line = [](const std::filesystem::path& file) {
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(text);
    return last_json_line(text);
  };
  const json held = read_line(out), other_held = read_line(other_out);
  REQUIRE(held.is_object());
  REQUIRE(other_held.is_object());
  CHECK(held["subscribed"] == limit);
  CHECK(held["refused"] == 1);
  CHECK(held["silent"] == 0);
  CHECK(held.value("refusal", "").find("uid " + watcher + " holds 16 subscriptions, the limit per uid") !=
        std::string::npos);
  CHECK(other_held["subscribed"] == 1);
  CHECK(other_held["refused"] == 0);
  // Once they let go, the subscriptions are gone (bounded wait).
  json after = agentctl_json(world, {"status"});
  for (int i = 0; i < 100 && after.is_object() && after["control"]["subscriptions"] != 0; ++i) {
    usleep(50'000);
    after = agentctl_json(world, {"status"});
  }
  REQUIRE(after.is_object());
  CHECK(after["control"]["subscriptions"] == 0);
}
