// agentd as a systemd service, with the test in systemd's place: the
// notification socket (READY only once enforcement is attached, STATUS,
// STOPPING, watchdog pings) and the delegated cgroup layout.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Plays systemd's side of sd_notify: a datagram socket whose path goes into
// $NOTIFY_SOCKET for the children this test starts. On each READY=1 it
// runs `on_ready` at once, from the receiving thread, to see what the
// daemon had done by the time it said so.
// The environment is changed on the test's thread; NotifySocket's own
// thread, in receive(), reads none of it.
class NotifySocket {
 public:
  NotifySocket(const fs::path& path, std::function<void()> on_ready) : path_(path), on_ready_(std::move(on_ready)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval timeout{0, 100'000};  // lets the thread see stop_ between datagrams
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setenv("NOTIFY_SOCKET", path.c_str(), 1);  // NOLINT(concurrency-mt-unsafe): receive() reads none
    thread_ = std::thread([this] { receive(); });
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe): receive() reads none
    unsetenv("WATCHDOG_USEC");  // NOLINT(concurrency-mt-unsafe): receive() reads none
    stop_ = true;
    thread_.join();
    close(fd_);
  }

  std::vector<std::string> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  size_t count(const std::string& line) const {
    size_t n = 0;
    for (const auto& m : messages())
      if (("\n" + m + "\n").find("\n" + line + "\n") != std::string::npos) ++n;
    return n;
  }
  // Waits (bounded) until `line` has come `times` times.
  bool wait_for(const std::string& line, size_t times = 1) const {
    for (int i = 0; i < 1500 && count(line) < times; ++i) usleep(20'000);
    return count(line) >= times;
  }
  std::string dump() const {
    std::string text;
    for (const auto& m : messages()) text += "[" + m + "]\n";
    return text;
  }

 private:
  void receive() {
    char buffer[4096];
    while (!stop_) {
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      std::string message(buffer, static_cast<size_t>(n));
      if (("\n" + message + "\n").find("\nREADY=1\n") != std::string::npos && on_ready_) on_ready_();
      std::lock_guard lock(mutex_);
      messages_.push_back(std::move(message));
    }
  }

  fs::path path_;
  std::function<void()> on_ready_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

std::string status_line(const std::vector<std::string>& messages, size_t index) {
  const std::string& m = messages.at(index);
  auto at = m.find("STATUS=");
  return at == std::string::npos ? "" : m.substr(at + 7, m.find('\n', at) - at - 7);
}

}  // namespace

TEST_CASE("under systemd, READY=1 comes only once enforcement is attached, and the watchdog is fed") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  size_t attachments_at_ready = 0;
  int status_at_ready = -1;
  NotifySocket notify(world.dir() / "notify.sock", [&] {
    for (const auto& [type, count] : world.attachments(world.cgroup_root())) attachments_at_ready += count;
    status_at_ready = world.agentctl({"status", "-o", "json"}).exit_code;
  });
  setenv("WATCHDOG_USEC", "400000", 1);  // a ping every 200 ms; NOLINT(concurrency-mt-unsafe)

  REQUIRE(world.start_agentd());
  INFO(world.agentd_log());
  REQUIRE(notify.wait_for("READY=1"));
  INFO(notify.dump());
  CHECK(notify.count("READY=1") == 1);
  // By the time it said READY the programs were attached at the sandbox
  // root and the control socket answered.
  CHECK(attachments_at_ready >= 5);
  CHECK(status_at_ready == 0);
  const auto messages = notify.messages();
  size_t ready_at = 0;
  while (ready_at < messages.size() && messages[ready_at].find("READY=1") == std::string::npos) ++ready_at;
  CHECK(status_line(messages, ready_at) == "enforcing policy generation 1");

  CHECK(notify.wait_for("WATCHDOG=1", 3));

  // A reload (systemctl reload sends SIGHUP) updates the status line.
  world.write_policy("globex.yaml", kGlobexPolicy);
  world.signal_agentd(SIGHUP);
  bool reloaded = false;
  for (int i = 0; i < 1500 && !reloaded; ++i) {
    for (const auto& m : notify.messages()) reloaded |= m == "STATUS=enforcing policy generation 2";
    if (!reloaded) usleep(20'000);
  }
  CHECK(reloaded);

  world.kill_agentd(SIGTERM);
  CHECK(world.agentd_exit_code() == 0);
  CHECK(notify.count("STOPPING=1") == 1);
  CHECK(notify.count("READY=1") == 1);
}

TEST_CASE("under systemd, a start that fails never says READY and tells why", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  NotifySocket notify(world.dir() / "notify.sock", nullptr);
  // Everything but the last step works: a directory stands where the
  // control socket should go.
  fs::create_directories(world.socket());
  REQUIRE_FALSE(world.start_agentd());
  INFO(world.agentd_log());
  CHECK(world.agentd_exit_code() == 1);
  for (int i = 0; i < 500 && notify.messages().empty(); ++i) usleep(20'000);
  INFO(notify.dump());
  CHECK(notify.count("READY=1") == 0);
  // systemctl status shows the reason.
  CHECK(notify.dump().find("STATUS=binding the control socket " + world.socket().string()) != std::string::npos);
  CHECK(notify.count("ERRNO=98") == 1);  // EADDRINUSE
}

TEST_CASE("under systemd with Delegate=yes, agentd moves into a leaf and keeps the sandboxes beside it") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  // The unit's cgroup as systemd would make it, with agentd started in it.
  const fs::path unit = world.make_foreign_cgroup("unit.service");
  const fs::path bpffs = world.dir() / "bpffs" / "delegated";
  const fs::path socket = world.dir() / "delegated.sock";
  const std::string start = "echo $$ > '" + (unit / "cgroup.procs").string() + "' && exec \"$@\"";
  // NOLINTNEXTLINE(concurrency-mt-unsafe): receive() reads none
  setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", 1);
  pid_t agentd =
      spawn_process({"nsenter", "--net=" + world.host_ns_path(), "sh", "-c", start, "sh", agentd_bin(), "--policy-dir",
                     (world.dir() / "policy").string(), "--state-dir", (world.dir() / "state-delegated").string(),
                     "--socket", socket.string(), "--bpffs-dir", bpffs.string()},
                    world.dir() / "delegated.out", world.dir() / "delegated.err");
  unsetenv("INVOCATION_ID");  // NOLINT(concurrency-mt-unsafe): receive() reads none
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {agentctl_bin(), "--socket", socket.string()});
    return world.in_host(args);
  };
  json status;
  for (int i = 0; i < 500 && poll_exit(agentd) < 0; ++i) {
    auto result = ctl({"status", "-o", "json"});
    if (result.exit_code == 0) {
      status = json::parse(result.out);
      break;
    }
    usleep(20'000);
  }
  INFO(read_file(world.dir() / "delegated.err"));
  REQUIRE(status.is_object());
  CHECK(status["daemon"]["cgroup_root"] == (unit / "sandboxes").string());
  CHECK(status["daemon"]["delegated_cgroup"] == unit.string());
  CHECK(read_file("/proc/" + std::to_string(agentd) + "/cgroup").find("-unit.service/daemon\n") != std::string::npos);
  // The unit's own cgroup holds no process: systemd can start the next
  // agentd there, and controllers could be delegated further down.
  CHECK(read_file(unit / "cgroup.procs").empty());

  auto run = ctl({"run", "--agent", "acme/eng/coder-1", "--", NETPROBE_BIN, "connect", "tcp", "198.51.100.66", "80"});
  expect_refused(run);
  expect_ok(ctl({"run", "--agent", "acme/eng/coder-1", "--", NETPROBE_BIN, "connect", "tcp", "198.51.100.10", "80"}));
  CHECK(fs::is_directory(unit / "sandboxes" / "acme" / "eng" / "coder-1"));
  // The daemon's own leaf is outside the sandbox root: its sockets are its own.
  CHECK(world.attachments(unit / "daemon").empty());
  CHECK(world.attachments(unit / "sandboxes").size() >= 5);

  CHECK(stop_process(agentd, SIGTERM) == 0);
}

TEST_CASE("a restart after the sandbox root was removed (systemd prunes a stopped unit's cgroup) attaches afresh") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.10", "80"}));
  world.kill_agentd(SIGTERM);
  // Empty cgroups, deepest first, as systemd trims them.
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::recursive_directory_iterator(world.cgroup_root()))
    if (entry.is_directory()) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) { return a.string() > b.string(); });
  dirs.push_back(world.cgroup_root());
  for (const auto& dir : dirs) REQUIRE(rmdir(dir.c_str()) == 0);

  REQUIRE(world.start_agentd());
  INFO(world.agentd_log());
  CHECK(world.agentd_log().find("outlived its cgroup; attaching afresh") != std::string::npos);
  CHECK(world.attachments(world.cgroup_root()).size() >= 5);
  expect_refused(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.66", "80"}));
  expect_ok(world.netprobe_in_sandbox("acme/eng/coder-1", {"connect", "tcp", "198.51.100.10", "80"}));
  CHECK(world.stray_packets() == 0);
}
