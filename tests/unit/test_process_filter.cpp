// The seccomp rules that keep a sandbox's hands off other processes:
// built from each syscall profile and loaded into a forked child (seccomp
// needs no root with no_new_privs), which then tries each call on itself
// and on its parent. The parent has the same uid, so the kernel alone
// would allow all of it: EPERM can only be the filter's.
#include <linux/kcmp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "agentd/policy/sandbox_section.hpp"
#include "agentd/confine/process_filter.hpp"
#include "agentd/confine/seccomp_profile.hpp"

using agentd::policy::SandboxProfile;
using agentd::policy::SyscallProfileKind;

namespace {

constexpr int kIoprioWhoProcess = 1, kIoprioWhoPgrp = 2;

// errno of each attempt, 0 when it worked.
using Outcomes = std::map<std::string, int>;

int attempt(long rc) { return rc < 0 ? errno : 0; }

Outcomes try_everything() {
  const pid_t parent = getppid();
  Outcomes out;
  rlimit limit{};
  out["prlimit64 self"] = attempt(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &limit));
  out["prlimit64 parent"] = attempt(syscall(SYS_prlimit64, parent, RLIMIT_NOFILE, nullptr, &limit));
  // A valid pid in the low half with high bits set: never taken for "self".
  out["prlimit64 high bits"] = attempt(syscall(SYS_prlimit64, 1UL << 32, RLIMIT_NOFILE, nullptr, &limit));
  errno = 0;
  const int nice_now = getpriority(PRIO_PROCESS, 0);
  out["setpriority self"] = attempt(syscall(SYS_setpriority, PRIO_PROCESS, 0, nice_now));
  out["setpriority parent"] = attempt(syscall(SYS_setpriority, PRIO_PROCESS, parent, 19));
  out["setpriority group"] = attempt(syscall(SYS_setpriority, PRIO_PGRP, 0, 19));
  out["setpriority user"] = attempt(syscall(SYS_setpriority, PRIO_USER, 0, 19));
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  sched_getaffinity(0, sizeof(cpus), &cpus);
  out["sched_setaffinity self"] = attempt(syscall(SYS_sched_setaffinity, 0, sizeof(cpus), &cpus));
  out["sched_setaffinity parent"] = attempt(syscall(SYS_sched_setaffinity, parent, sizeof(cpus), &cpus));
  sched_param param{};
  out["sched_setparam self"] = attempt(syscall(SYS_sched_setparam, 0, &param));
  out["sched_setparam parent"] = attempt(syscall(SYS_sched_setparam, parent, &param));
  out["sched_setscheduler parent"] = attempt(syscall(SYS_sched_setscheduler, parent, SCHED_OTHER, &param));
  const long ioprio = syscall(SYS_ioprio_get, kIoprioWhoProcess, 0);
  out["ioprio_set self"] = attempt(syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, ioprio));
  out["ioprio_set parent"] = attempt(syscall(SYS_ioprio_set, kIoprioWhoProcess, parent, ioprio));
  out["ioprio_set group"] = attempt(syscall(SYS_ioprio_set, kIoprioWhoPgrp, 0, ioprio));
  out["migrate_pages parent"] = attempt(syscall(SYS_migrate_pages, parent, 0, nullptr, nullptr));
  out["move_pages parent"] = attempt(syscall(SYS_move_pages, parent, 0, nullptr, nullptr, nullptr, 0));
  out["kcmp"] = attempt(syscall(SYS_kcmp, getpid(), parent, KCMP_FILE, 0, 0));
  out["process_madvise"] = attempt(syscall(SYS_process_madvise, 0, nullptr, 0, 0, 0));
  return out;
}

// The profile's filter in a child; what each attempt gave there.
Outcomes under_filter(const SandboxProfile& profile) {
  auto program = agentd::confine::build_seccomp_program(profile);
  REQUIRE(program);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || program->install() != 0) _exit(2);
    std::string report;
    for (const auto& [name, error] : try_everything()) report += name + "=" + std::to_string(error) + "\n";
    (void)!write(fds[1], report.data(), report.size());
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  Outcomes out;
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    out[line.substr(0, eq)] = std::stoi(line.substr(eq + 1));
  }
  return out;
}

SandboxProfile profile(SyscallProfileKind kind) {
  SandboxProfile p;
  p.profile = kind;
  return p;
}

}  // namespace

TEST_CASE("every self-only syscall is known to libseccomp") {
  for (const auto& entry : agentd::confine::self_only_syscalls()) {
    INFO(entry.name);
    CHECK(seccomp_syscall_resolve_name(entry.name) >= 0);
    CHECK(agentd::confine::is_self_only_syscall(entry.name));
  }
  CHECK_FALSE(agentd::confine::is_self_only_syscall("getpriority"));
}

TEST_CASE("without the filter, the same uid may limit and reprioritise its parent (the test means something)") {
  Outcomes bare = try_everything();
  CHECK(bare["prlimit64 parent"] == 0);
  CHECK(bare["setpriority self"] == 0);
  CHECK(bare["sched_setaffinity parent"] == 0);
}

TEST_CASE("every profile allows these calls on the caller and refuses them on another process") {
  for (auto kind : {SyscallProfileKind::standard, SyscallProfileKind::none, SyscallProfileKind::strict}) {
    INFO("profile " << agentd::policy::name_of(kind));
    Outcomes out = under_filter(profile(kind));
    CHECK(out["prlimit64 self"] == 0);
    CHECK(out["setpriority self"] == 0);
    CHECK(out["sched_setaffinity self"] == 0);
    for (const char* refused :
         {"prlimit64 parent", "prlimit64 high bits", "setpriority parent", "setpriority group", "setpriority user",
          "sched_setaffinity parent", "sched_setparam parent", "sched_setscheduler parent", "ioprio_set parent",
          "ioprio_set group", "migrate_pages parent", "move_pages parent", "kcmp", "process_madvise"}) {
      INFO(refused);
      CHECK(out[refused] == EPERM);
    }
    if (kind != SyscallProfileKind::strict) {
      // strict does not list these at all.
      CHECK(out["sched_setparam self"] == 0);
      CHECK(out["ioprio_set self"] == 0);
    }
  }
}

TEST_CASE("a profile's allow list does not lift the process rules") {
  SandboxProfile p = profile(SyscallProfileKind::standard);
  p.allow = {"kcmp", "prlimit64"};
  Outcomes out = under_filter(p);
  CHECK(out["kcmp"] == EPERM);
  CHECK(out["prlimit64 parent"] == EPERM);
  CHECK(out["prlimit64 self"] == 0);
}

TEST_CASE("a profile that denies one of them outright keeps its own action") {
  SandboxProfile p = profile(SyscallProfileKind::standard);
  p.deny = {"prlimit64"};
  Outcomes out = under_filter(p);
  CHECK(out["prlimit64 self"] == EPERM);
  CHECK(out["prlimit64 parent"] == EPERM);
}
