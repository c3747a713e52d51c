// Landlock and seccomp profiles, capabilities and the hidden host controls,
// as applied by `agentctl run`, tried from inside a sandbox as root (the
// policy says `user: root`): the hard case (root owns the files that
// matter; only confinement stops it). The default user is
// test_sandbox_user.cpp's.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "agentd/policy/syscall_sets.hpp"
#include "agentd/confine/landlock.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kBinDir = fs::path(SYSPROBE_BIN).parent_path().string();
constexpr int kKilledBySigsys = 128 + SIGSYS;

// Every box runs as root, explicitly; box/std/*: the default profile;
// box/kill/*: the same, killing; box/fs/*: files confined; box/user/*:
// runs as nobody; box/net/*: the Landlock port wall.
std::string box_policy(const World& world) {
  const std::string dir = world.dir().string();
  return "apiVersion: agentd/v1\n"
         "tenant: box\n"
         "rules:\n"
         "  - agents: \"box/*/*\"\n"
         "    allow:\n"
         "      - cidr: 198.51.100.0/24\n"
         "        ports: [80]\n"
         "    sandbox:\n"
         "      user: root\n"
         "  - agents: \"box/kill/*\"\n"
         "    sandbox:\n"
         "      syscalls:\n"
         "        action: kill\n"
         "  - agents: \"box/fs/*\"\n"
         "    sandbox:\n"
         "      filesystem:\n"
         "        read_only: [/etc, /proc, \"" +
         dir +
         "/ro\"]\n"
         "        read_write: [\"" +
         dir +
         "/rw/{agent}\"]\n"
         "        execute: [/usr/lib, /lib64, \"" +
         kBinDir +
         "\"]\n"
         "  - agents: \"box/user/*\"\n"
         "    sandbox:\n"
         "      user: nobody\n"
         "  - agents: \"box/net/*\"\n"
         "    sandbox:\n"
         "      network:\n"
         "        landlock_ports: true\n";
}

struct Box {
  World world;
  Box(const std::string& extra_policy = "") {
    world.write_policy("box.yaml", box_policy(world) + extra_policy);
    fs::create_directories(world.dir() / "ro");
    fs::create_directories(world.dir() / "rw" / "a");
    std::ofstream(world.dir() / "ro" / "file") << "read me";
    std::ofstream(world.dir() / "outside.txt") << "secret";
    REQUIRE(world.start_agentd());
  }
  ProcessResult probe(const std::string& agent, std::vector<std::string> args,
                      std::vector<std::string> run_options = {}) const {
    std::vector<std::string> argv = {"run", "--agent", agent};
    argv.insert(argv.end(), run_options.begin(), run_options.end());
    argv.emplace_back("--");
    argv.emplace_back(SYSPROBE_BIN);
    argv.insert(argv.end(), args.begin(), args.end());
    return world.agentctl(argv);
  }
};

void expect_errno(const ProcessResult& result, const std::string& error) { expect_refused(result, error); }

json status_in(const Box& box, const std::string& agent) {
  auto result = box.probe(agent, {"status"});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  return last_line(result);
}

}  // namespace

namespace {

// Whether this kernel runs i386 syscalls at all (int 0x80 from a 64-bit
// process). Some do not (a PVM guest's kernel faults on it everywhere, in a
// sandbox or not); there the i386 checks assert that nothing gets through
// that way: every such call faults before any syscall runs.
bool kernel_runs_i386() {
  static const bool runs = [] {
    auto outside = run_process({SYSPROBE_BIN, "call32", "getppid"});
    INFO(outside.describe());
    if (outside.exit_code == 0) return true;
    REQUIRE(outside.exit_code == 128 + SIGSEGV);  // nothing else is expected of it
    WARN(
        "this kernel runs no i386 syscalls (int 0x80 faults outside any sandbox too): "
        "the i386 checks assert that none gets through");
    return false;
  }();
  return runs;
}

// What an i386 call the sandbox allows gives: success, or where the kernel
// runs none, a fault with nothing done.
void expect_i386_ok(const ProcessResult& result) {
  if (kernel_runs_i386()) return expect_ok(result);
  INFO(result.describe());
  CHECK(result.exit_code == 128 + SIGSEGV);
  CHECK(last_line(result).is_null());
}

// And one it refuses with `error`.
void expect_i386_errno(const ProcessResult& result, const std::string& error) {
  if (kernel_runs_i386()) return expect_errno(result, error);
  expect_i386_ok(result);  // the same fault: the call never ran
}

}  // namespace

TEST_CASE("the default profile refuses each of its syscalls, on the x86-64 and the i386 ABI", "[each-kernel]") {
  Box box;
  // action kill: SIGSYS proves seccomp refused it, not a missing capability.
  // Each syscall in a child of its own, all in one sandboxed run per ABI.
  std::map<std::string, json> native, i386;
  for (const auto& [how, seen] : {std::pair<std::string, std::map<std::string, json>*>{"call", &native},
                                  std::pair<std::string, std::map<std::string, json>*>{"call32", &i386}}) {
    std::vector<std::string> args = {"each", how};
    for (const auto& name : agentd::policy::default_denied_syscalls()) args.push_back(name);
    auto run = box.probe("box/kill/a", args);
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);
    std::istringstream lines(run.out);
    for (std::string line; std::getline(lines, line);)
      if (auto j = json::parse(line, nullptr, false); j.is_object() && j.contains("syscall")) (*seen)[j["syscall"]] = j;
  }
  for (const auto& name : agentd::policy::default_denied_syscalls()) {
    INFO("syscall " << name);
    REQUIRE(native.count(name) == 1);
    REQUIRE(i386.count(name) == 1);
    // Absent from the x86-64 table: tried through i386 only.
    if (!native[name]["absent"].get<bool>()) CHECK(native[name]["signal"].get<int>() == SIGSYS);
    if (!i386[name]["absent"].get<bool>())
      CHECK(i386[name]["signal"].get<int>() == (kernel_runs_i386() ? SIGSYS : SIGSEGV));
    CHECK(!(native[name]["absent"].get<bool>() && i386[name]["absent"].get<bool>()));
  }
  // With the default action the caller gets EPERM; ptrace(PTRACE_TRACEME)
  // needs no capability, so only seccomp can refuse it.
  expect_errno(box.probe("box/std/a", {"call", "ptrace"}), "EPERM");
  expect_i386_errno(box.probe("box/std/a", {"call32", "ptrace"}), "EPERM");
  // And what is not in the profile works.
  expect_ok(box.probe("box/kill/a", {"call", "getppid"}));
  expect_i386_ok(box.probe("box/kill/a", {"call32", "getppid"}));
}

TEST_CASE("no user or network namespace: unshare, clone with namespace flags, clone3", "[each-kernel]") {
  Box box;
  for (const char* ns : {"user", "net", "mount"}) {
    INFO(ns);
    expect_errno(box.probe("box/std/a", {"unshare", ns}), "EPERM");
    expect_errno(box.probe("box/std/a", {"clone", ns}), "EPERM");
  }
  // clone3 hides its flags from seccomp: answered ENOSYS, libc falls back to clone.
  expect_errno(box.probe("box/std/a", {"clone3"}), "ENOSYS");
  expect_ok(box.probe("box/std/a", {"child", "call", "getppid"}));
}

TEST_CASE("root inside a sandbox keeps no capabilities and has no_new_privs", "[each-kernel]") {
  Box box;
  json status = status_in(box, "box/std/a");
  INFO(status.dump());
  CHECK(status["uid"] == 0);
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) CHECK(status[set] == "0000000000000000");
  CHECK(status["NoNewPrivs"] == "1");
  CHECK(status["Seccomp"] == "2");
  CHECK(status["cgroup"].get<std::string>().find("/box/std/a") != std::string::npos);
}

TEST_CASE("the agent cannot move itself out of its cgroup, even as root", "[each-kernel]") {
  Box box;
  const fs::path foreign = box.world.make_foreign_cgroup("escape");
  // Root without capabilities may still write cgroup.procs (root owns it):
  // the proof that this test tries something real.
  auto outside = box.world.in_host({SYSPROBE_BIN, "move-cgroup", foreign.string()});
  INFO(outside.describe());
  REQUIRE(outside.exit_code == 0);
  for (const char* agent : {"box/std/a", "box/fs/a"}) {
    for (const fs::path& target : {box.world.cgroup2_mount(), box.world.cgroup_root(), foreign,
                                   fs::path("/proc/1/root") / box.world.cgroup2_mount().relative_path()}) {
      auto result = box.probe(agent, {"move-cgroup", target.string()});
      auto line = last_line(result);
      INFO(agent << " -> " << target << "\n" << result.describe());
      REQUIRE(line.is_object());
      CHECK_FALSE(line.value("ok", true));
      CHECK(line["after"] == line["before"]);
      CHECK(line["after"].get<std::string>().find(std::string("/") + agent) != std::string::npos);
    }
  }
}

TEST_CASE("agentd's control socket is unreachable from a sandbox", "[each-kernel]") {
  Box box;
  // Reachable from the host: the probe works.
  expect_ok(box.world.in_host({SYSPROBE_BIN, "control", box.world.socket().string()}));
  for (const char* agent : {"box/std/a", "box/fs/a"}) {
    INFO(agent);
    auto result = box.probe(agent, {"control", box.world.socket().string()});
    INFO(result.describe());
    CHECK(result.exit_code == 1);
    CHECK(last_line(result).value("connected", false) == false);
  }
}

TEST_CASE("a sandbox cannot ptrace or signal a process outside", "[each-kernel]") {
  Box box;
  const pid_t victim = spawn_process({"sleep", "300"}, box.world.dir() / "victim.out", box.world.dir() / "victim.err");
  const std::string pid = std::to_string(victim);
  expect_errno(box.probe("box/std/a", {"ptrace", pid}), "EPERM");
  // Same uid (root): the sandbox's PID namespace leaves the pid naming
  // nothing; Landlock's signal scoping (ABI 6) is the wall behind it.
  expect_errno(box.probe("box/std/a", {"signal", pid, "15"}), "ESRCH");
  expect_errno(box.probe("box/std/a", {"signal", pid, "0"}), "ESRCH");
  CHECK(poll_exit(victim) == -1);
  if (agentd::confine::landlock_abi() < 6) {
    auto result = box.probe("box/std/a", {"status"});
    CHECK(result.err.find("signal and abstract unix socket scoping") != std::string::npos);
  }
  stop_process(victim, SIGKILL);
  // Inside its own sandbox, signals still work (a shell kills its jobs).
  expect_ok(box.probe("box/std/a", {"signal", "0", "0"}));
}

TEST_CASE("a sandbox cannot connect to an abstract unix socket made outside", "[each-kernel]") {
  Box box;
  // Abstract names live in a network namespace: the listener, like every
  // sandbox of the world, is in the world's host namespace.
  const std::string name = "agentd-e2e-" + std::to_string(getpid());
  const pid_t listener =
      spawn_process({"nsenter", "--net=" + box.world.host_ns_path(), SYSPROBE_BIN, "abstract", "listen", name},
                    box.world.dir() / "abstract.out", box.world.dir() / "abstract.err");
  for (int i = 0; i < 250 && read_file(box.world.dir() / "abstract.out").find("ready") == std::string::npos; ++i)
    usleep(20'000);
  expect_ok(box.world.in_host({SYSPROBE_BIN, "abstract", "connect", name}));
  if (agentd::confine::landlock_abi() >= 6)
    expect_errno(box.probe("box/std/a", {"abstract", "connect", name}), "EPERM");
  stop_process(listener, SIGKILL);
}

TEST_CASE("files: writes outside read_write and reads outside the profile are refused, exec outside execute too",
          "[each-kernel]") {
  Box box;
  const std::string dir = box.world.dir().string();
  expect_ok(box.probe("box/fs/a", {"write", dir + "/rw/a/new"}));
  expect_ok(box.probe("box/fs/a", {"read", dir + "/ro/file"}));
  expect_ok(box.probe("box/fs/a", {"read", "/etc/hostname"}));
  expect_errno(box.probe("box/fs/a", {"write", dir + "/ro/new"}), "EACCES");
  expect_errno(box.probe("box/fs/a", {"write", dir + "/outside-new"}), "EACCES");
  {
    // /etc: Landlock refuses (EACCES); where /etc is a read-only mount (the
    // VM test mounts the host's root read-only) the kernel says EROFS first.
    auto etc = box.probe("box/fs/a", {"write", "/etc/agentd-e2e-must-not-exist"});
    INFO(etc.describe());
    const std::string error = last_line(etc).value("error", "");
    CHECK((error == "EACCES" || (error == "EROFS" && access("/etc", W_OK) != 0)));
    CHECK_FALSE(std::filesystem::exists("/etc/agentd-e2e-must-not-exist"));
  }
  expect_errno(box.probe("box/fs/a", {"read", dir + "/outside.txt"}), "EACCES");
  expect_errno(box.probe("box/fs/a", {"read", "/root/.bashrc"}), "EACCES");
  // {agent} expands: box/fs/b may not write a's directory.
  expect_errno(box.probe("box/fs/b", {"write", dir + "/rw/a/other"}), "EACCES");
  expect_errno(box.probe("box/fs/a", {"exec", "/usr/bin/true"}), "EACCES");
  expect_ok(box.probe("box/fs/a", {"exec", SYSPROBE_BIN}));
  CHECK_FALSE(fs::exists(dir + "/outside-new"));
  CHECK_FALSE(fs::exists("/etc/agentd-e2e-must-not-exist"));
  // A command outside `execute` does not start at all.
  auto blocked = box.world.agentctl({"run", "--agent", "box/fs/a", "--", "/usr/bin/id"});
  INFO(blocked.describe());
  CHECK(blocked.exit_code == 126);
  CHECK(blocked.err.find("Permission denied") != std::string::npos);
}

TEST_CASE("the profile is inherited by children and cannot be loosened") {
  Box box;
  const std::string dir = box.world.dir().string();
  expect_errno(box.probe("box/fs/a", {"child", "write", dir + "/outside-new"}), "EACCES");
  expect_errno(box.probe("box/fs/a", {"child", "read", dir + "/outside.txt"}), "EACCES");
  expect_errno(box.probe("box/fs/a", {"child", "call", "ptrace"}), "EPERM");
  expect_errno(box.probe("box/std/a", {"child", "unshare", "user"}), "EPERM");
  auto loosened = box.probe("box/fs/a", {"loosen", dir + "/outside-new"});
  auto line = last_line(loosened);
  INFO(loosened.describe());
  REQUIRE(line.is_object());
  CHECK(line["landlock_layer"] == true);  // a layer may be added...
  CHECK(line["seccomp_layer"] == true);
  CHECK(line["nnp_cleared"] == false);
  CHECK(line["write_errno"] == EACCES);  // ...and changes nothing
  CHECK(line["ptrace_errno"] == EPERM);
  CHECK(loosened.exit_code == 1);
  CHECK_FALSE(fs::exists(dir + "/outside-new"));
}

TEST_CASE("require refuses to start on a kernel with a lower Landlock ABI", "[each-kernel]") {
  const int abi = agentd::confine::landlock_abi();
  Box box(
      "  - agents: \"box/new/*\"\n"
      "    sandbox:\n"
      "      require:\n"
      "        landlock_abi: " +
      std::to_string(abi + 1) +
      "\n"
      "  - agents: \"box/old/*\"\n"
      "    sandbox:\n"
      "      require:\n"
      "        landlock_abi: " +
      std::to_string(std::max(abi, 1)) + "\n");
  const std::string marker = (box.world.dir() / "ran").string();
  auto refused = box.probe("box/new/a", {"write", marker});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("requires Landlock ABI " + std::to_string(abi + 1)) != std::string::npos);
  CHECK_FALSE(fs::exists(marker));  // nothing ran
  if (abi >= 1) expect_ok(box.probe("box/old/a", {"write", marker}));
  auto profile = box.world.agentctl({"sandbox", "profile", "--agent", "box/new/a", "-o", "json"});
  INFO(profile.describe());
  REQUIRE(profile.exit_code == 0);
  auto j = json::parse(profile.out);
  CHECK(j["kernel"]["landlock"]["requirement_met"] == false);
  CHECK(j["kernel"]["landlock"]["abi"] == abi);
}

TEST_CASE("the policy's user: the command runs as it, and --user may not disagree") {
  Box box;
  json status = status_in(box, "box/user/a");
  CHECK(status["uid"] == 65534);
  CHECK(status["CapEff"] == "0000000000000000");
  auto disagree = box.probe("box/user/a", {"status"}, {"--user", "root"});
  INFO(disagree.describe());
  CHECK(disagree.exit_code == 1);
  CHECK(disagree.err.find("disagrees") != std::string::npos);
}

TEST_CASE("sandbox profile shows the merged profile and what the kernel enforces") {
  Box box;
  auto result = box.world.agentctl({"sandbox", "profile", "--agent", "box/fs/a", "-o", "json"});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  auto j = json::parse(result.out);
  const json& p = j["profile"];
  CHECK(p["filesystem"]["read_write"] == json::array({(box.world.dir() / "rw" / "a").string()}));
  CHECK(p["syscalls"]["profile"] == "default");
  CHECK(p["tcp_connect_ports"] == json::array({80}));
  CHECK(p["sources"].size() == 2);  // box/*/* (user: root) and box/fs/*
  CHECK(j["kernel"]["landlock"]["abi"] == agentd::confine::landlock_abi());
  auto table = box.world.agentctl({"sandbox", "profile", "--agent", "box/fs/a"});
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("read_write:  " + (box.world.dir() / "rw" / "a").string()) != std::string::npos);
}

TEST_CASE("the Landlock TCP port wall refuses ports no allow names, before the hooks", "[each-kernel]") {
  Box box;
  if (agentd::confine::landlock_abi() < 4) {
    auto result = box.world.agentctl(
        {"run", "--agent", "box/net/a", "--", NETPROBE_BIN, "connect", "tcp", "198.51.100.10", "80"});
    CHECK(result.err.find("TCP port wall") != std::string::npos);
    return;
  }
  auto run = [&](const std::string& agent, const std::string& port) {
    return box.world.agentctl({"run", "--agent", agent, "--", NETPROBE_BIN, "connect", "tcp", "198.51.100.10", port});
  };
  expect_ok(run("box/net/a", "80"));
  expect_refused(run("box/net/a", "9000"), "EACCES");  // Landlock
  expect_refused(run("box/std/a", "9000"), "EPERM");   // the BPF hook
}

TEST_CASE("the strict profile runs plain tools and refuses what it does not list") {
  Box box(
      "  - agents: \"box/strict/*\"\n"
      "    sandbox:\n"
      "      syscalls:\n"
      "        profile: strict\n");
  auto shell = box.world.agentctl({"run", "--agent", "box/strict/a", "--", "/bin/sh", "-c",
                                   "ls / | wc -l > /dev/null && id -u && cat /etc/hostname"});
  INFO(shell.describe());
  CHECK(shell.exit_code == 0);
  CHECK(shell.out.rfind("0\n", 0) == 0);
  expect_ok(box.probe("box/strict/a", {"call", "getppid"}));
  expect_ok(box.probe("box/strict/a", {"child", "call", "getppid"}));
  expect_errno(box.probe("box/strict/a", {"call", "ptrace"}), "EPERM");
  // munlockall is allowed by `default` and not listed by `strict`.
  expect_ok(box.probe("box/std/a", {"call", "munlockall"}));
  expect_errno(box.probe("box/strict/a", {"call", "munlockall"}), "EPERM");
  // The allowlist holds on the i386 ABI by name, with i386's numbers.
  expect_i386_ok(box.probe("box/strict/a", {"call32", "getppid"}));
  expect_i386_errno(box.probe("box/strict/a", {"call32", "ptrace"}), "EPERM");
  expect_errno(box.probe("box/strict/a", {"unshare", "net"}), "EPERM");
  expect_errno(box.probe("box/strict/a", {"clone", "user"}), "EPERM");
  // Sockets: the families the socket rules permit work, the hooks judge them.
  expect_ok(box.world.agentctl(
      {"run", "--agent", "box/strict/a", "--", NETPROBE_BIN, "connect", "tcp", "198.51.100.10", "80"}));
  expect_refused(box.world.agentctl({"run", "--agent", "box/strict/a", "--", NETPROBE_BIN, "socket", "packet", "raw"}));
}
