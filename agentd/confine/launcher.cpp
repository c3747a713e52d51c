#include "agentd/confine/launcher.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "agentd/common/unique_fd.hpp"
#include "agentd/confine/privileges.hpp"
#include "agentd/confine/sandbox_init.hpp"

namespace agentd::confine {
namespace {

// Who the command runs as; resolved before the clone, because NSS lookups
// do not belong in a child between clone and exec.
struct Identity {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
  std::string name, home;
};

Result<Identity> resolve_user(const std::string& user) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  char* end = nullptr;
  unsigned long numeric = std::strtoul(user.c_str(), &end, 10);
  int rc = (!user.empty() && *end == '\0')
               ? getpwuid_r(static_cast<uid_t>(numeric), &pw, buf.data(), buf.size(), &found)
               : getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || !found) return make_error("--user {}: no such user", user);
  Identity id{pw.pw_uid, pw.pw_gid, {}, pw.pw_name, pw.pw_dir};
  int count = 64;
  id.groups.resize(static_cast<size_t>(count));
  if (getgrouplist(pw.pw_name, pw.pw_gid, id.groups.data(), &count) < 0) {
    id.groups.resize(static_cast<size_t>(count));
    getgrouplist(pw.pw_name, pw.pw_gid, id.groups.data(), &count);
  }
  id.groups.resize(static_cast<size_t>(count));
  return id;
}

// What the child reports through the pipe when a step before exec fails.
struct ChildFailure {
  int step;
  int error;
};
enum Step {
  kSignals = 1,
  kFds,
  kProc,
  kHide,
  kBounding,
  kGroups,
  kGid,
  kUid,
  kCaps,
  kNoNewPrivs,
  kLandlock,
  kSeccomp,
  kFork,
  kExec,
  kNice
};

const char* step_name(int step) {
  switch (step) {
    case kSignals:
      return "resetting signals";
    case kFds:
      return "closing inherited descriptors";
    case kProc:
      return "mounting the sandbox's /proc";
    case kGroups:
      return "setting groups";
    case kGid:
      return "setting the group id";
    case kUid:
      return "setting the user id";
    case kHide:
      return "hiding agentd's directories, the cgroup tree and the kernel's settings";
    case kBounding:
      return "dropping the capability bounding set";
    case kCaps:
      return "dropping capabilities";
    case kNoNewPrivs:
      return "setting no_new_privs";
    case kLandlock:
      return "enforcing the Landlock ruleset";
    case kSeccomp:
      return "installing the seccomp filter";
    case kFork:
      return "starting the command under the sandbox's init";
    case kNice:
      return "lowering the sandbox's CPU priority";
    default:
      return "running";
  }
}

[[noreturn]] void fail_child(int pipe_fd, int step) {
  ChildFailure failure{step, errno};
  (void)!::write(pipe_fd, &failure, sizeof(failure));
  _exit(errno == ENOENT && step == kExec ? 127 : 126);
}

// For the steps that return an errno value rather than setting errno.
void check_step(int pipe_fd, int step, int error) {
  if (error == 0) return;
  errno = error;
  fail_child(pipe_fd, step);
}

void switch_user(const Identity& identity, int pipe_fd) {
  if (setgroups(identity.groups.size(), identity.groups.data()) != 0) fail_child(pipe_fd, kGroups);
  if (setgid(identity.gid) != 0) fail_child(pipe_fd, kGid);
  if (setuid(identity.uid) != 0) fail_child(pipe_fd, kUid);
  // The clone3 child has one thread: setenv cannot race here.
  setenv("HOME", identity.home.c_str(), 1);     // NOLINT(concurrency-mt-unsafe): one thread
  setenv("USER", identity.name.c_str(), 1);     // NOLINT(concurrency-mt-unsafe): one thread
  setenv("LOGNAME", identity.name.c_str(), 1);  // NOLINT(concurrency-mt-unsafe): one thread
}

// PID 1 of the new PID and mount namespaces: confines itself, then forks
// the command, which inherits all of it, and becomes its init.
[[noreturn]] void child_main(const LaunchSpec& spec, const std::optional<Identity>& identity, std::vector<char*>& argv,
                             int pipe_fd) {
  sigset_t all;
  sigfillset(&all);
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  // Blocked until the init's handlers are in place (sandbox_init.cpp).
  if (sigprocmask(SIG_SETMASK, &all, nullptr) != 0) fail_child(pipe_fd, kSignals);
  // Nothing made outside the sandbox may come in: every descriptor but
  // stdin, stdout and stderr closes at exec (the report pipe too).
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail_child(pipe_fd, kFds);
  check_step(pipe_fd, kProc, mount_private_proc());
  // Only ever lower the priority (a higher nice value), never raise it
  // over what agentctl was started with. Before the user changes; the
  // sandbox's user cannot lower it back (RLIMIT_NICE is 0 for it).
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, 0);
  if (errno == 0 && spec.nice > current && setpriority(PRIO_PROCESS, 0, spec.nice) != 0) fail_child(pipe_fd, kNice);
  const Confinement* c = spec.confinement;
  if (c) {
    // What needs privileges first, while we have them.
    check_step(pipe_fd, kHide, hide_host_control(c->hidden));
    if (c->landlock.fd) check_step(pipe_fd, kLandlock, landlock_regrant_proc(c->landlock));
    check_step(pipe_fd, kBounding, drop_bounding_set_and_lock_securebits());
  }
  if (identity) switch_user(*identity, pipe_fd);
  if (c) {
    check_step(pipe_fd, kCaps, clear_capabilities());
    check_step(pipe_fd, kNoNewPrivs, set_no_new_privs());
    if (c->landlock.fd) check_step(pipe_fd, kLandlock, landlock_restrict_self(c->landlock.fd.get()));
    // The init is not dumpable (the command becomes so again at exec):
    // its /proc/1 belongs to root and ptrace needs CAP_SYS_PTRACE, even
    // for a command of the same uid.
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail_child(pipe_fd, kNoNewPrivs);
    // Last: the filter may refuse what the steps above need. The init is
    // under it too: the command could otherwise ptrace its unfiltered
    // parent (same uid) and walk out through it.
    if (c->seccomp) check_step(pipe_fd, kSeccomp, c->seccomp->install());
  }
  const pid_t command = ::fork();
  if (command < 0) fail_child(pipe_fd, kFork);
  if (command == 0) {
    check_step(pipe_fd, kSignals, reset_signals());
    execvp(argv[0], argv.data());
    fail_child(pipe_fd, kExec);
  }
  // The init never execs, so close-on-exec never closes its descriptors:
  // it closes them itself. Only the command holds the report pipe now
  // (agentctl reads until it closes at exec), and nothing agentctl opened
  // (the cgroup's directory, whose ".." leads out of the covers) stays
  // reachable through /proc/1/fd.
  syscall(SYS_close_range, 3U, ~0U, 0U);
  run_sandbox_init(command);
}

pid_t forward_to = -1;
void forward_signal(int sig) {
  if (forward_to > 0) ::kill(forward_to, sig);
}

}  // namespace

Result<int> run_in_cgroup(const LaunchSpec& spec) {
  if (spec.argv.empty()) return make_error("no command to run");
  std::optional<Identity> identity;
  if (spec.user) {
    auto resolved = resolve_user(*spec.user);
    if (!resolved) return resolved.error();
    identity = std::move(*resolved);
  } else if (spec.sandbox_uid) {
    // As systemd does for a dynamic user without a home.
    const auto id = static_cast<uid_t>(*spec.sandbox_uid);
    identity = Identity{id, static_cast<gid_t>(id), {}, fmt::format("agentd-{}", id), "/"};
  }
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  UniqueFd cgroup_fd(::open(spec.cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd) return system_error("opening sandbox cgroup {}", spec.cgroup_dir.string());
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return system_error("creating a pipe");
  UniqueFd report_read(pipe_fds[0]), report_write(pipe_fds[1]);

  clone_args args_struct{};
  // PID 1 of a PID namespace of its own, in a mount namespace of its own.
  args_struct.flags = CLONE_INTO_CGROUP | CLONE_NEWPID | CLONE_NEWNS;
  args_struct.exit_signal = SIGCHLD;
  args_struct.cgroup = static_cast<uint64_t>(cgroup_fd.get());
  std::fflush(nullptr);  // nothing buffered may be written twice
  long pid = ::syscall(SYS_clone3, &args_struct, sizeof(args_struct));
  if (pid < 0) return system_error("starting the command in sandbox cgroup {}", spec.cgroup_dir.string());
  if (pid == 0) child_main(spec, identity, argv, report_write.get());

  report_write.reset();
  // The terminal sends ^C and ^\ to the whole foreground group, the
  // command included; we wait for its answer instead of dying first.
  // Termination requests sent to us alone are passed on to the sandbox's
  // init, which passes them on to the command.
  forward_to = static_cast<pid_t>(pid);
  struct sigaction ignore {
  }, forward{};
  ignore.sa_handler = SIG_IGN;
  forward.sa_handler = forward_signal;
  sigaction(SIGINT, &ignore, nullptr);
  sigaction(SIGQUIT, &ignore, nullptr);
  sigaction(SIGTERM, &forward, nullptr);
  sigaction(SIGHUP, &forward, nullptr);

  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_read.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);

  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0) {
    if (errno != EINTR) return system_error("waiting for the command");
  }
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    if (failure.step == kExec)
      std::fprintf(stderr, "agentctl: cannot run '%s': %s\n", spec.argv[0].c_str(), errno_text(failure.error).c_str());
    else
      std::fprintf(stderr, "agentctl: %s for '%s': %s\n", step_name(failure.step), spec.argv[0].c_str(),
                   errno_text(failure.error).c_str());
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace agentd::confine
