// The default sandbox user and the sandbox's private view of the host
// (issue 11, item 5), attacked as the default user and as explicit root:
// agentd's policy, state, socket and pins are out of sight, the kernel's
// settings are read-only, agentd's process cannot be seen, limited or
// reprioritised, and agentd still serves afterwards.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// own/*: no user (agentd's uid); own/root/*: user: root, explicitly;
// own/uring/*: io_uring allowed.
std::string policy_text() {
  return "apiVersion: agentd/v1\n"
         "tenant: own\n"
         "rules:\n"
         "  - agents: \"own/*/*\"\n"
         "    allow:\n"
         "      - cidr: 198.51.100.0/24\n"
         "        ports: [80]\n"
         "  - agents: \"own/root/*\"\n"
         "    sandbox:\n"
         "      user: root\n"
         "  - agents: \"own/uring/*\"\n"
         "    sandbox:\n"
         "      syscalls:\n"
         "        allow: [io_uring_setup]\n";
}

struct Host {
  World world;
  Host() {
    world.write_policy("own.yaml", policy_text());
    REQUIRE(world.start_agentd());
  }
  ProcessResult probe(const std::string& agent, std::vector<std::string> args) const {
    args.insert(args.begin(), {"run", "--agent", agent, "--", SYSPROBE_BIN});
    return world.agentctl(args);
  }
  json status_in(const std::string& agent) const {
    auto result = probe(agent, {"status"});
    INFO(result.describe());
    REQUIRE(result.exit_code == 0);
    return last_line(result);
  }
};

// Refused, whichever errno the wall in front answers with.
void expect_failed(const ProcessResult& result) {
  INFO(result.describe());
  auto line = last_line(result);
  REQUIRE(line.is_object());
  CHECK_FALSE(line.value("ok", true));
  CHECK(result.exit_code == 1);
}

// A spawned `sysprobe wait-for` has started in its sandbox.
void wait_for_output(const World& world, const std::string& name) {
  const fs::path out = world.dir() / (name + ".out");
  for (int i = 0; i < 500 && read_file(out).find("waiting") == std::string::npos; ++i) usleep(20'000);
  REQUIRE(read_file(out).find("waiting") != std::string::npos);
}

constexpr uint32_t kFirstUid = 80000, kLastUid = 96383;  // agentd's default --sandbox-uids

}  // namespace

TEST_CASE("without user: each sandbox runs as a uid of its own from agentd's range") {
  Host host;
  json a = host.status_in("own/eng/a");
  json b = host.status_in("own/eng/b");
  INFO(a.dump() << "\n" << b.dump());
  for (const json* s : {&a, &b}) {
    CHECK((*s)["uid"] > kFirstUid);
    CHECK((*s)["uid"] <= kLastUid);
    CHECK((*s)["gid"] == (*s)["uid"]);
    CHECK((*s)["CapEff"] == "0000000000000000");
    CHECK((*s)["CapBnd"] == "0000000000000000");
  }
  CHECK(a["uid"] != b["uid"]);
  // The same sandbox keeps its uid from one run to the next.
  CHECK(host.status_in("own/eng/a")["uid"] == a["uid"]);
  // And `id -u` says so too.
  auto id = host.world.agentctl({"run", "--agent", "own/eng/a", "--", "id", "-u"});
  INFO(id.describe());
  CHECK(id.exit_code == 0);
  CHECK(id.out == a["uid"].dump() + "\n");
  // user: root is still possible, explicitly; and --user works for operators.
  CHECK(host.status_in("own/root/a")["uid"] == 0);
  auto nobody = host.world.agentctl({"run", "--agent", "own/eng/c", "--user", "nobody", "--", "id", "-u"});
  CHECK(nobody.out == "65534\n");
  // agentd says which range it owns.
  auto status = json::parse(host.world.agentctl({"status", "-o", "json"}).out);
  CHECK(status["daemon"]["sandbox_uids"] == "80000-96383");
}

TEST_CASE("agentd's policy, state, socket and pins are out of sight, as the default user and as root",
          "[each-kernel]") {
  Host host;
  const fs::path policy_file = host.world.policy_dir() / "own.yaml";
  const std::string policy_before = [&] {
    std::ifstream in(policy_file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  REQUIRE(fs::exists(host.world.bpffs_dir() / "maps"));
  for (const char* agent : {"own/eng/a", "own/root/a"}) {
    INFO(agent);
    // Every one of agentd's directories is under an empty, read-only cover.
    for (const fs::path& dir :
         {host.world.policy_dir(), host.world.state_dir(), host.world.socket().parent_path(), host.world.bpffs_dir()}) {
      INFO(dir);
      // Nothing to see: an empty listing, or none at all.
      auto listed = host.probe(agent, {"list", dir.string()});
      INFO(listed.describe());
      REQUIRE(last_line(listed).is_object());
      CHECK(last_line(listed).value("entries", 0) == 0);
    }
    expect_failed(host.probe(agent, {"write", policy_file.string()}));
    expect_failed(host.probe(agent, {"write", (host.world.policy_dir() / "evil.yaml").string()}));
    expect_failed(host.probe(agent, {"unlink", (host.world.pinned_maps_dir() / "agentd_rules").string()}));
    expect_failed(host.probe(agent, {"unlink", host.world.socket().string()}));
    expect_failed(host.probe(agent, {"control", host.world.socket().string()}));
  }
  std::ifstream in(policy_file);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == policy_before);
  CHECK_FALSE(fs::exists(host.world.policy_dir() / "evil.yaml"));
  CHECK(fs::exists(host.world.pinned_maps_dir() / "agentd_rules"));
}

TEST_CASE("a socket agentd re-creates after a restart stays hidden") {
  Host host;
  const fs::path go = host.world.dir() / "go";
  const pid_t waiting = host.world.spawn_in_sandbox(
      "own/root/a", {"wait-for", go.string(), "control", host.world.socket().string()}, "late", SYSPROBE_BIN);
  wait_for_output(host.world, "late");
  host.world.kill_agentd(SIGTERM);
  REQUIRE(host.world.start_agentd());
  REQUIRE(fs::exists(host.world.socket()));
  std::ofstream(go) << "go";
  auto late = host.world.wait_spawned(waiting, "late");
  INFO(late.describe());
  CHECK(late.exit_code == 1);
  CHECK(last_line(late).value("connected", false) == false);
}

TEST_CASE("kernel settings are read-only in a sandbox, even for root", "[each-kernel]") {
  Host host;
  // Root may write each of these on the host; /proc/sysrq-trigger needs
  // no capability at all (a kernel without CONFIG_MAGIC_SYSRQ has none).
  std::vector<std::string> settings = {"/proc/sys/kernel/core_pattern", "/sys/kernel/rcu_expedited"};
  if (fs::exists("/proc/sysrq-trigger")) settings.emplace_back("/proc/sysrq-trigger");
  for (const auto& path : settings) {
    INFO(path);
    REQUIRE(fs::exists(path));
    // Opened for writing only, never written: these are the host's.
    expect_failed(host.probe("own/eng/a", {"open-write", path}));
    // Root owns them: only the read-only mounts refuse it.
    expect_refused(host.probe("own/root/a", {"open-write", path}), "EROFS");
  }
  // The host can (the test means something); opening changes nothing.
  expect_ok(host.world.in_host({SYSPROBE_BIN, "open-write", "/proc/sys/kernel/core_pattern"}));
}

TEST_CASE("a sandbox sees only its own processes, and cannot limit or reprioritise agentd", "[each-kernel]") {
  Host host;
  const pid_t agentd = host.world.agentd_pid();
  REQUIRE(agentd > 0);
  errno = 0;
  const int nice_before = getpriority(PRIO_PROCESS, static_cast<id_t>(agentd));
  const std::string pid = std::to_string(agentd);
  expect_ok(host.world.in_host({SYSPROBE_BIN, "see-pid", pid}));
  for (const char* agent : {"own/eng/a", "own/root/a"}) {
    INFO(agent);
    expect_refused(host.probe(agent, {"see-pid", pid}), "ENOENT");
    // The seccomp rule answers first (a pid other than 0); were it gone,
    // the pid would still name nothing in the sandbox's namespace.
    expect_refused(host.probe(agent, {"setpriority", pid}), "EPERM");
    expect_refused(host.probe(agent, {"prlimit", pid}), "EPERM");
    expect_refused(host.probe(agent, {"ptrace", pid}), "EPERM");
    // The command is PID 2 of its namespace: PID 1 is its init.
    CHECK(host.status_in(agent)["pid"] == 2);
    expect_ok(host.probe(agent, {"see-pid", "1"}));
  }
  errno = 0;
  CHECK(getpriority(PRIO_PROCESS, static_cast<id_t>(agentd)) == nice_before);
  // agentd still serves.
  auto status = host.world.agentctl({"status", "-o", "json"});
  INFO(status.describe());
  REQUIRE(status.exit_code == 0);
  CHECK(json::parse(status.out)["policy"]["generation"] == 1);
  expect_ok(host.world.netprobe_in_sandbox("own/eng/a", {"connect", "tcp", "198.51.100.10", "80"}));
}

TEST_CASE("agentctl run keeps the command's exit status, stdin and signals through the sandbox's init") {
  Host host;
  auto seven = host.world.agentctl({"run", "--agent", "own/eng/a", "--", "sh", "-c", "exit 7"});
  CHECK(seven.exit_code == 7);
  auto killed = host.world.agentctl({"run", "--agent", "own/eng/a", "--", "sh", "-c", "kill -TERM $$"});
  CHECK(killed.exit_code == 128 + SIGTERM);
  auto piped = host.world.in_host({"sh", "-c",
                                   std::string("echo through-stdin | '") + agentctl_bin() + "' --socket '" +
                                       host.world.socket().string() + "' run --agent own/eng/a -- cat"});
  INFO(piped.describe());
  CHECK(piped.out == "through-stdin\n");
  // A terminal stays the command's terminal (script(1) gives agentctl one).
  auto tty = host.world.in_host({"script", "-qec",
                                 "'" + agentctl_bin() + "' --socket '" + host.world.socket().string() +
                                     "' run --agent own/eng/a -- sh -c 'test -t 0 && tty'",
                                 "/dev/null"});
  INFO(tty.describe());
  CHECK(tty.exit_code == 0);
  CHECK(tty.out.find("/dev/pts/") != std::string::npos);
  // SIGTERM to agentctl reaches the command through the init.
  const fs::path never = host.world.dir() / "never";
  const pid_t run =
      host.world.spawn_in_sandbox("own/eng/a", {"wait-for", never.string(), "status"}, "term", SYSPROBE_BIN);
  wait_for_output(host.world, "term");
  kill(run, SIGTERM);
  auto term = host.world.wait_spawned(run, "term");
  CHECK(term.exit_code == 128 + SIGTERM);
}

TEST_CASE("io_uring is refused at run while the socket family hook is missing", "[each-kernel]") {
  Host host;
  auto status = json::parse(host.world.agentctl({"status", "-o", "json"}).out);
  const std::string hook = status["kernel"]["enforcement"].value("socket_family_hook", "");
  auto run = host.world.agentctl({"run", "--agent", "own/uring/a", "--", "true"});
  INFO(run.describe() << "\nhook: " << hook);
  if (hook == "active") {
    CHECK(run.exit_code == 0);
  } else {
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("allows io_uring_setup") != std::string::npos);
    CHECK(run.err.find(hook) != std::string::npos);
  }
}

TEST_CASE("a sandbox without a uid left in agentd's range does not start, unless a user is named") {
  World world;
  world.write_policy("own.yaml", policy_text());
  REQUIRE(world.start_agentd({"--sandbox-uids", "80000-80001"}));
  auto first = world.agentctl({"run", "--agent", "own/eng/a", "--", "id", "-u"});
  CHECK(first.out == "80001\n");
  const std::string marker = (world.dir() / "ran").string();
  auto second = world.agentctl({"run", "--agent", "own/eng/b", "--", "touch", marker});
  INFO(second.describe());
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("has no uid in the sandbox uid range 80000-80001") != std::string::npos);
  CHECK_FALSE(fs::exists(marker));  // nothing ran
  // The operator may still name a user, and the policy's root needs no uid.
  CHECK(world.agentctl({"run", "--agent", "own/eng/b", "--user", "nobody", "--", "id", "-u"}).out == "65534\n");
  CHECK(world.agentctl({"run", "--agent", "own/root/b", "--", "id", "-u"}).out == "0\n");
}

TEST_CASE("agentd refuses a uid range that reaches root, nobody or 2^31", "[kernel-neutral]") {
  for (const char* range : {"0-16383", "60000-70000", "2147480000-2147490000", "80000"}) {
    INFO(range);
    World world;
    world.write_policy("own.yaml", policy_text());
    CHECK_FALSE(world.start_agentd({"--sandbox-uids", range}));
    CHECK(world.agentd_exit_code() == 2);
    CHECK(world.agentd_log().find("--sandbox-uids") != std::string::npos);
  }
}
