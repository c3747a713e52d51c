// agentd cannot be crashed or wedged from a sandbox, and authorised
// clients cannot confuse it (issue 11, items 1 and 7).
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

// Bytes 0xff ESC [ 3 1 m LF: not UTF-8, a colour escape and a newline.
constexpr const char* kHostileCommHex = "ff1b5b33316d0a";
// What the denial record must carry instead: the invalid byte as the text
// \xff, the rest as JSON escapes it (JSON's own escaping is undone by parsing).
const std::string kEscapedComm = std::string("\\xff") + "\x1b[31m\n";

// agentd answers `status`: its JSON (null when it does not).
json status_of(const World& world) { return agentctl_json(world, {"status"}); }

// The denial to `port` with the hostile name, waiting (bounded) for agentd
// to drain it: null if it never came.
json wait_for_denial(const World& world, int port) {
  return world.wait_for_denial(
      [&](const json& record) { return record.value("port", 0) == port && record.value("comm", "") == kEscapedComm; });
}

// One request line on the control socket, as any client could write it;
// the answer parsed.
json raw_request(const World& world, const std::string& line) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, world.socket().c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  const std::string text = line + "\n";
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  INFO(line << " -> " << answer);
  auto parsed = json::parse(answer, nullptr, false);
  REQUIRE(parsed.is_object());
  return parsed;
}

void expect_refusal_naming(const World& world, const std::string& line, const std::string& words) {
  const json answer = raw_request(world, line);
  INFO(line << " -> " << answer.dump());
  CHECK(answer["ok"] == false);
  CHECK(answer.value("error", "").find(words) != std::string::npos);
}

}  // namespace

TEST_CASE(
    "a process name that is not UTF-8 and holds escapes is recorded escaped, and agentd serves on, after kill -9 too",
    "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
  const std::string agent = "acme/eng/coder-1";

  // Port 8080 is no rule's: the denial goes to the log, the store and the
  // approvals (a request with the process name and its executable).
  expect_refused(
      world.netprobe_in_sandbox(agent, {"--comm-hex", kHostileCommHex, "connect", "tcp", "198.51.100.20", "8080"}));
  const json record = wait_for_denial(world, 8080);
  INFO(world.agentd_log());
  REQUIRE(record.is_object());
  CHECK(record["sandbox"] == agent);
  // The line on disk: valid JSON with the escapes visible, not raw bytes.
  std::ifstream events(world.dir() / "events.jsonl");
  const std::string text((std::istreambuf_iterator<char>(events)), std::istreambuf_iterator<char>());
  CHECK(text.find(R"("comm":"\\xff\u001b[31m\n")") != std::string::npos);
  CHECK(text.find('\xff') == std::string::npos);

  json status = status_of(world);
  REQUIRE(status.is_object());
  CHECK(status["events"]["records_failed"] == 0);
  CHECK(status["failures"]["records"] == 0);
  const json requests = agentctl_json(world, {"approvals", "list"});
  REQUIRE(requests.size() == 1);
  CHECK(requests[0]["process"]["comm"] == kEscapedComm);
  auto human = world.agentctl({"approvals", "list"});
  CHECK(human.exit_code == 0);
  auto human_status = world.agentctl({"status"});
  INFO(human_status.describe());
  CHECK(human_status.exit_code == 0);
  CHECK(human_status.out.find("0 malformed, 0 failed (logged and skipped)") != std::string::npos);
  CHECK_FALSE(agentctl_json(world, {"audit"}).is_null());

  // The same record left in the pinned ring for the next agentd: stopped
  // before it drains, killed, started again.
  world.signal_agentd(SIGSTOP);
  const auto sandbox = world.cgroup_root() / "acme" / "eng" / "coder-1";
  expect_refused(
      world.netprobe_in_cgroup(sandbox, {"--comm-hex", kHostileCommHex, "connect", "tcp", "198.51.100.20", "8081"}));
  world.kill_agentd(SIGKILL);
  REQUIRE(world.start_agentd());
  CHECK(wait_for_denial(world, 8081).is_object());
  status = status_of(world);
  REQUIRE(status.is_object());
  CHECK(status["events"]["records_failed"] == 0);
  // And once more, now that it has read the record: it still serves.
  world.kill_agentd(SIGKILL);
  REQUIRE(world.start_agentd());
  CHECK(status_of(world).is_object());
  expect_ok(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.10", "80"}));
  CHECK(world.stray_packets() == 0);
}

// Erase line, carriage return, right-to-left override, newline, CSI (as
// the one-byte C1 control) "1m": a process name that tries to rewrite the
// operator's screen, within the kernel's 15 bytes.
constexpr const char* kSteeringCommHex = "1b5b324b0de280ae0ac29b316d";

TEST_CASE("what a sandbox names reaches no operator's terminal or log raw: process names and executable paths",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd());
  const std::string agent = "acme/eng/coder-1";

  // An executable under a directory whose name holds an escape, a newline
  // and a byte that is not UTF-8; it stays alive (looping on a denied
  // connect), so agentd reads its path from /proc.
  const auto dir = world.dir() / "bin\x1b[31m\n\xff";
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                        std::filesystem::perms::others_exec);
  std::filesystem::copy_file(NETPROBE_BIN, dir / "netprobe");
  const auto stop = world.dir() / "stop-loop";
  pid_t loop =
      world.spawn_in_sandbox(agent, {"--comm-hex", kSteeringCommHex, "loop", "198.51.100.20", "8082", stop.string()},
                             "loop", (dir / "netprobe").string());
  auto request = wait_for_request(world, agent, "198.51.100.20", 8082);
  std::ofstream(stop) << "stop";
  (void)world.wait_spawned(loop, "loop");
  REQUIRE(request.is_object());
  CHECK(request["process"]["exe"].get<std::string>().find("\\xff") != std::string::npos);

  // Every view an operator reads: escapes shown as text, never acted on.
  for (const std::vector<std::string>& view : {std::vector<std::string>{"approvals", "list"},
                                               {"approvals", "list", "-o", "json"},
                                               {"audit"},
                                               {"status"},
                                               {"grants", "list"}}) {
    auto shown = world.agentctl(view);
    INFO(view[0] << ": " << shown.describe());
    CHECK(shown.exit_code == 0);
    CHECK(raw_steering_at(shown.out) == -1);
    CHECK(raw_steering_at(shown.err) == -1);
    if (view.size() == 2 && view[0] == "approvals") CHECK(shown.out.find("\\x1b[2K") != std::string::npos);  // visible
  }
  CHECK(raw_steering_at(world.agentd_log()) == -1);
  // The JSON lines are ASCII: whatever reads or tails them.
  std::ifstream events(world.dir() / "events.jsonl");
  const std::string text((std::istreambuf_iterator<char>(events)), std::istreambuf_iterator<char>());
  REQUIRE_FALSE(text.empty());
  for (unsigned char c : text) {
    CHECK((c == '\n' || (c >= 0x20 && c < 0x7f)));
    if (!(c == '\n' || (c >= 0x20 && c < 0x7f))) break;
  }
  CHECK(world.stray_packets() == 0);
  CHECK(status_of(world).is_object());
}

TEST_CASE("adopting agentd's own sandbox tree, its own cgroup or a path with .. is refused, naming why") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.10", "80"}));
  auto adopt = [&](const std::string& cgroup) {
    return world.agentctl({"sandbox", "adopt", "--agent", "acme/ops/runner", "--cgroup", cgroup});
  };
  auto expect_refused_adopt = [&](const std::string& cgroup, const std::string& why) {
    auto result = adopt(cgroup);
    INFO(cgroup << ": " << result.describe());
    CHECK(result.exit_code != 0);
    CHECK(result.err.find(why) != std::string::npos);
  };
  expect_refused_adopt(world.cgroup_root().string(), "agentd's own sandbox tree");
  expect_refused_adopt((world.cgroup_root() / "acme" / "eng" / "coder-1").string(), "agentd's own sandbox tree");
  expect_refused_adopt(world.cgroup2_mount().string(), "not a cgroup below the cgroup2 mount");
  expect_refused_adopt("/tmp", "not a cgroup below the cgroup2 mount");
  const auto foreign = world.make_foreign_cgroup("adoptee");
  expect_refused_adopt((foreign / ".." / foreign.filename()).string(), "\"..\" is refused");
  // agentd's own cgroup (the mount's root counts as "not below the mount").
  const json status = status_of(world);
  REQUIRE(status.is_object());
  std::ifstream own_file("/proc/" + std::to_string(status["daemon"]["pid"].get<int>()) + "/cgroup");
  std::string own_line, own_path;
  while (std::getline(own_file, own_line))
    if (own_line.rfind("0::", 0) == 0) own_path = own_line.substr(3);
  REQUIRE_FALSE(own_path.empty());
  if (own_path == "/") {
    expect_refused_adopt(world.cgroup2_mount().string() + "/", "not a cgroup below the cgroup2 mount");
  } else {
    expect_refused_adopt((world.cgroup2_mount() / own_path.substr(1)).string(), "holds agentd itself");
  }
  // None of that changed anything, and a proper cgroup is still adopted.
  CHECK(status_of(world)["sandboxes"].size() == 1);
  auto ok = adopt(foreign.string());
  INFO(ok.describe());
  CHECK(ok.exit_code == 0);
}

TEST_CASE("control requests with wrong types or out-of-range values are refused naming the field", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  expect_refusal_naming(world, R"({"method":"sandbox.adopt","agent":"acme/ops/runner","cgroup":5})",
                        "\"cgroup\" must be a string");
  expect_refusal_naming(world, R"({"method":"sandbox.ensure","agent":["acme"]})", "\"agent\" must be a string");
  expect_refusal_naming(world, R"({"method":"policy.explain","agent":"acme/eng/coder-1"})", "needs the field \"dest\"");
  expect_refusal_naming(world, R"({"method":"approvals.approve","id":-1})", "\"id\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"approvals.approve","id":1e300})", "\"id\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"approvals.approve","id":18446744073709551615})",
                        "\"id\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"approvals.approve","id":"1"})", "\"id\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"approvals.approve","id":1,"scope":5})", "\"scope\" must be a string");
  expect_refusal_naming(world, R"({"method":"approvals.approve","id":1,"scope":"galaxy"})",
                        "is not agent, team or tenant");
  expect_refusal_naming(world, R"({"method":"approvals.approve","id":1,"permanent":"yes"})",
                        "\"permanent\" must be true or false");
  expect_refusal_naming(world, R"({"method":"approvals.approve","id":1,"for":"99999999999999999999999s"})",
                        "longer than ten years");
  expect_refusal_naming(world, R"({"method":"approvals.deny","id":1,"for":3600})", "\"for\" must be a string");
  expect_refusal_naming(world, R"({"method":"approvals.list","state":7})", "\"state\" must be a string");
  expect_refusal_naming(world, R"({"method":"grants.revoke","id":0})", "\"id\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"audit.query","limit":-5})", "\"limit\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"audit.query","since":{}})", "\"since\" must be a string");
  expect_refusal_naming(world, R"({"method":"audit.query","after_id":-1})", "\"after_id\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"audit.query","after_id":"7"})", "\"after_id\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"status","sandboxes":-1})", "\"sandboxes\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"status","sandboxes":1e9})", "\"sandboxes\" must be a whole number");
  expect_refusal_naming(world, R"({"method":"status","sandboxes":99999999})", "\"sandboxes\" must be a whole number");
  // Still serving, and nothing counted as a failure: each was an answer.
  const json status = status_of(world);
  REQUIRE(status.is_object());
  CHECK(status["failures"]["control_requests"] == 0);
}
