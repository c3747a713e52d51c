// sysprobe: the confinement tests' tool. Each action tries one thing,
// prints one JSON line {"op":...,"ok":bool[,"errno":N,"error":"EPERM"]}
// and exits 0 when it worked, 1 when it was refused, 2 on bad usage.
//
//   sysprobe call NAME                 the syscall NAME (x86-64), all arguments 0
//   sysprobe call32 NAME               the same through the i386 ABI (int 0x80)
//   sysprobe each call|call32 NAME...  each syscall in a child of its own (one sandboxed run for
//                                      many, where a refusal may kill the caller): a line per NAME,
//                                      {"syscall":NAME,"absent":bool,"signal":N}, N the signal that
//                                      ended the child or 0
//   sysprobe unshare user|net|mount    unshare(2) with that namespace
//   sysprobe clone user|net            clone(2) with that namespace flag
//   sysprobe clone3                    clone3(2) without flags
//   sysprobe read PATH | write PATH | exec PATH
//   sysprobe move-cgroup DIR           write our pid to DIR/cgroup.procs; reports our cgroup after
//   sysprobe abstract listen|connect NAME   an abstract unix socket: listen (until killed) or connect
//   sysprobe control SOCKET            connect to agentd's socket, ask for status
//   sysprobe hold-control SOCKET N [UNTIL]  open N connections to it and say nothing; count those
//                                      agentd turned away with a line ("refused", "refusal": the first
//                                      one), those it closed without a word ("closed") and those
//                                      still open ("kept"); hold them until UNTIL exists
//   sysprobe hold-watch SOCKET N UNTIL  open N subscriptions (approvals.watch), one after another,
//                                      each waited on for its first line: count those agentd
//                                      served ("subscribed") and refused ("refused", "refusal": the
//                                      first); report, then hold them until UNTIL exists (60 s at most)
//   sysprobe ptrace PID | signal PID SIG
//   sysprobe status                    capabilities, no_new_privs, seccomp mode, uid, gid, pid
//   sysprobe open-write PATH           open PATH for writing (never writes: core_pattern is the host's)
//   sysprobe unlink PATH | list DIR    unlink(2); the entries of DIR ("entries":N)
//   sysprobe setpriority PID | prlimit PID   reprioritise PID (nice 19) or read its RLIMIT_NOFILE
//   sysprobe see-pid PID               whether /proc/PID exists here
//   sysprobe wait-for PATH ACTION ...  print {"waiting":true}, wait (at most 60 s) for PATH, then ACTION
//   sysprobe loosen PATH               stack a permissive Landlock layer and seccomp filter, then write PATH and call
//   ptrace sysprobe child ACTION ...          fork and exec this binary with ACTION ...; its output and status sysprobe
//   bench getppid|file PATH COUNT   ns per operation sysprobe allow-all ACTION ...      ACTION under a one-instruction
//   allow-all seccomp filter (the floor)
#include <fcntl.h>
#include <poll.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

int report(const std::string& op, bool ok, int error, const std::string& extra = "") {
  std::string line = "{\"op\":\"" + op + "\"," + extra + (extra.empty() ? "" : ",");
  if (ok) {
    line += "\"ok\":true}";
  } else {
    const char* name = strerrorname_np(error);
    line += "\"ok\":false,\"errno\":" + std::to_string(error) + ",\"error\":\"" + (name ? name : "E?") + "\"}";
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  return ok ? 0 : 1;
}

int result(const std::string& op, long rc, const std::string& extra = "") {
  return report(op, rc >= 0, rc >= 0 ? 0 : errno, extra);
}

int usage() {
  std::fprintf(stderr, "usage: see the comment at the top of sysprobe.cpp\n");
  return 2;
}

std::string own_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return "";
}

int ns_flag(const std::string& name) {
  if (name == "user") return CLONE_NEWUSER;
  if (name == "net") return CLONE_NEWNET;
  if (name == "mount") return CLONE_NEWNS;
  return 0;
}

long call32(int nr) {
  long rc;
  asm volatile("int $0x80" : "=a"(rc) : "a"(nr), "b"(0), "c"(0), "d"(0), "S"(0), "D"(0) : "memory");
  if (rc < 0 && rc > -4096) {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return rc;
}

// A seccomp filter that allows everything: what any filter costs.
bool install_allow_all() {
  sock_filter allow_all = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  sock_fprog prog{1, &allow_all};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

int loosen(const std::string& path) {
  // A permissive Landlock layer: handles reading and writing, grants both under /.
  landlock_ruleset_attr attr{LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE};
  int fd = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0));
  int root = open("/", O_PATH | O_CLOEXEC);
  landlock_path_beneath_attr beneath{LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE, root};
  const bool layered = fd >= 0 && root >= 0 &&
                       syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) == 0 &&
                       syscall(SYS_landlock_restrict_self, fd, 0) == 0;
  // A seccomp filter that allows everything, stacked on the first.
  const bool filtered = install_allow_all();
  // And no_new_privs cannot be cleared.
  const bool nnp_cleared = prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0;
  int out = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int write_errno = out < 0 ? errno : 0;
  if (out >= 0) close(out);
  const long traced = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
  const int ptrace_errno = traced < 0 ? errno : 0;
  const std::string extra =
      std::string("\"landlock_layer\":") + (layered ? "true" : "false") +
      ",\"seccomp_layer\":" + (filtered ? "true" : "false") + ",\"nnp_cleared\":" + (nnp_cleared ? "true" : "false") +
      ",\"write_errno\":" + std::to_string(write_errno) + ",\"ptrace_errno\":" + std::to_string(ptrace_errno);
  return report("loosen", out >= 0 || traced >= 0 || nnp_cleared, EPERM, extra);
}

int bench(const std::vector<std::string>& args) {
  if (args.size() < 2) return usage();
  const bool file = args[0] == "file";
  if (file && args.size() < 3) return usage();
  const long count = std::strtol(args.back().c_str(), nullptr, 10);
  char buf[64];
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    if (file) {
      int fd = open(args[1].c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || read(fd, buf, sizeof(buf)) < 0) return report("bench", false, errno);
      close(fd);
    } else {
      syscall(SYS_getppid);
    }
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  char extra[64];
  std::snprintf(extra, sizeof(extra), "\"ns_per_op\":%.1f", ns / static_cast<double>(count));
  return report("bench", true, 0, extra);
}

int child(char** argv) {
  pid_t pid = fork();
  if (pid == 0) {
    argv[-1] = const_cast<char*>("sysprobe");
    execv("/proc/self/exe", argv - 1);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A connection to the unix socket at `path`, or -1.
int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A client that floods the control socket. Every refusal comes as one
// line at accept, before we send anything; a kept connection gets no line
// (agentd's deadline closes it after 5 s). Without UNTIL each connection
// is waited on for its line (a readiness wait: a kept one costs the
// deadline). With UNTIL they are held, "connected" is reported, and they
// are sorted once UNTIL exists: the test creates it after a later client
// was served, so agentd has accepted (or refused) every one of ours.
int hold_control(const std::string& path, size_t count, const std::string& until) {
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  std::vector<int> fds;
  for (size_t i = 0; i < count; ++i) {
    const int fd = connect_unix(path);
    if (fd < 0) break;
    fds.push_back(fd);
  }
  if (!until.empty()) {
    std::printf("{\"connected\":%zu}\n", fds.size());
    std::fflush(stdout);
    for (int i = 0; i < 1200 && access(until.c_str(), F_OK) != 0; ++i) usleep(50'000);
  }
  // refused: told why (an error line); closed: hung up without a word (a
  // silent client's deadline); kept: still open, nothing said.
  size_t refused = 0, kept = 0, closed = 0;
  std::string first;
  for (int fd : fds) {
    pollfd p{fd, POLLIN, 0};
    char line[512] = {};
    if (poll(&p, 1, until.empty() ? 7000 : 0) <= 0) {
      ++kept;
    } else if (read(fd, line, sizeof(line) - 1) > 0 && std::strstr(line, "\"error\"")) {
      ++refused;
      if (first.empty()) first = line;
    } else {
      ++closed;
    }
    close(fd);
  }
  while (!first.empty() && (first.back() == '\n' || first.back() == '}' || first.back() == '"')) first.pop_back();
  std::string escaped;
  for (char c : first) escaped += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return report("hold-control", true, 0,
                "\"connected\":" + std::to_string(fds.size()) + ",\"refused\":" + std::to_string(refused) +
                    ",\"kept\":" + std::to_string(kept) + ",\"closed\":" + std::to_string(closed) + ",\"refusal\":\"" +
                    escaped + "\"");
}

// Subscriptions of one uid: each is a connection that asked for
// approvals.watch and got its first line (the state, or the refusal).
int hold_watch(const std::string& path, size_t count, const std::string& until) {
  std::vector<int> fds;
  size_t subscribed = 0, refused = 0, silent = 0;
  std::string first;
  for (size_t i = 0; i < count; ++i) {
    const int fd = connect_unix(path);
    if (fd < 0) break;
    fds.push_back(fd);
    const char request[] = "{\"method\":\"approvals.watch\"}\n";
    (void)!write(fd, request, sizeof(request) - 1);
    pollfd p{fd, POLLIN, 0};
    char line[1024] = {};
    if (poll(&p, 1, 5000) <= 0 || read(fd, line, sizeof(line) - 1) <= 0) {
      ++silent;
    } else if (std::strstr(line, "\"ok\":true")) {
      ++subscribed;
    } else {
      ++refused;
      if (first.empty()) first = line;
    }
  }
  while (!first.empty() && (first.back() == '\n' || first.back() == '}' || first.back() == '"')) first.pop_back();
  std::string escaped;
  for (char c : first) escaped += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  report("hold-watch", true, 0,
         "\"subscribed\":" + std::to_string(subscribed) + ",\"refused\":" + std::to_string(refused) +
             ",\"silent\":" + std::to_string(silent) + ",\"refusal\":\"" + escaped + "\"");
  std::fflush(stdout);
  for (int i = 0; i < 1200 && access(until.c_str(), F_OK) != 0; ++i) usleep(50'000);
  for (int fd : fds) close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == "allow-all") {
    if (!install_allow_all()) return report("allow-all", false, errno);
    ++argv;
    --argc;
  }
  if (argc < 2) return usage();
  const std::string action = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  auto arg = [&](size_t i) -> const std::string& { return args.at(i); };
  try {
    if (action == "call" || action == "call32") {
      const bool i386 = action == "call32";
      const int nr = i386 ? seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, arg(0).c_str())
                          : seccomp_syscall_resolve_name(arg(0).c_str());
      const std::string extra = "\"syscall\":\"" + arg(0) + "\",\"nr\":" + std::to_string(nr);
      if (nr < 0) return report(action, false, ENOSYS, extra + ",\"absent\":true");
      return result(action, i386 ? call32(nr) : syscall(nr, 0, 0, 0, 0, 0, 0), extra);
    }
    if (action == "each") {
      const bool i386 = arg(0) == "call32";
      for (size_t i = 1; i < args.size(); ++i) {
        const int nr = i386 ? seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, args[i].c_str())
                            : seccomp_syscall_resolve_name(args[i].c_str());
        int signal = 0;
        if (nr >= 0) {
          std::fflush(stdout);
          const pid_t pid = fork();
          if (pid == 0) {
            if (i386)
              call32(nr);
            else
              syscall(nr, 0, 0, 0, 0, 0, 0);
            _exit(0);
          }
          int status = 0;
          if (pid < 0 || waitpid(pid, &status, 0) != pid) return report("each", false, errno);
          signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        }
        std::printf("{\"syscall\":\"%s\",\"absent\":%s,\"signal\":%d}\n", args[i].c_str(), nr < 0 ? "true" : "false",
                    signal);
      }
      return 0;
    }
    if (action == "unshare") return result("unshare", unshare(ns_flag(arg(0))));
    if (action == "clone") {
      long pid = syscall(SYS_clone, ns_flag(arg(0)) | SIGCHLD, 0, 0, 0, 0);
      if (pid == 0) _exit(0);
      if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
      return result("clone", pid);
    }
    if (action == "clone3") {
      clone_args ca{};
      ca.exit_signal = SIGCHLD;
      long pid = syscall(SYS_clone3, &ca, sizeof(ca));
      if (pid == 0) _exit(0);
      if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
      return result("clone3", pid);
    }
    if (action == "read") {
      int fd = open(arg(0).c_str(), O_RDONLY | O_CLOEXEC);
      char c;
      long rc = fd < 0 ? -1 : read(fd, &c, 1);
      if (fd >= 0) close(fd);
      return result("read", rc);
    }
    if (action == "write") {
      int fd = open(arg(0).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      long rc = fd < 0 ? -1 : write(fd, "x", 1);
      if (fd >= 0) close(fd);
      return result("write", rc);
    }
    if (action == "exec") {
      char* exec_argv[] = {const_cast<char*>(arg(0).c_str()), const_cast<char*>("--version"), nullptr};
      pid_t pid = fork();
      if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execv(exec_argv[0], exec_argv);
        _exit(errno == 0 ? 255 : 200 + errno % 50);
      }
      int status = 0;
      waitpid(pid, &status, 0);
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      if (code >= 200 && code < 250) return report("exec", false, code - 200);
      return report("exec", true, 0);
    }
    if (action == "move-cgroup") {
      const std::string before = own_cgroup();
      std::string procs = arg(0) + "/cgroup.procs";
      int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      long rc = fd < 0 ? -1 : write(fd, "0", 1);
      const int saved = errno;
      if (fd >= 0) close(fd);
      const std::string after = own_cgroup();
      errno = saved;
      return result("move-cgroup", rc, "\"before\":\"" + before + "\",\"after\":\"" + after + "\"");
    }
    if (action == "abstract") {
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path + 1, arg(1).c_str(), sizeof(addr.sun_path) - 2);
      const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + arg(1).size());
      if (arg(0) == "connect") return result("abstract", connect(fd, reinterpret_cast<sockaddr*>(&addr), length));
      if (bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0 || listen(fd, 8) != 0)
        return result("abstract", -1);
      report("abstract", true, 0, "\"ready\":true");
      for (;;) {
        int peer = accept(fd, nullptr, nullptr);
        if (peer >= 0) close(peer);
      }
    }
    if (action == "control") {
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, arg(0).c_str(), sizeof(addr.sun_path) - 1);
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return result("control", -1);
      const char request[] = "{\"method\":\"status\"}\n";
      (void)!write(fd, request, sizeof(request) - 1);
      char answer[4096] = {};
      long n = read(fd, answer, sizeof(answer) - 1);
      const bool served = n > 0 && std::strstr(answer, "\"ok\":true") != nullptr;
      return report("control", served, EACCES, std::string("\"connected\":true"));
    }
    if (action == "hold-watch" && args.size() == 3) return hold_watch(arg(0), std::stoul(arg(1)), arg(2));
    if (action == "hold-control") return hold_control(arg(0), std::stoul(arg(1)), args.size() > 2 ? arg(2) : "");
    if (action == "ptrace")
      return result("ptrace", ptrace(PTRACE_ATTACH, static_cast<int>(std::strtol(arg(0).c_str(), nullptr, 10)), 0, 0));
    if (action == "signal")
      return result("signal", kill(static_cast<int>(std::strtol(arg(0).c_str(), nullptr, 10)),
                                   static_cast<int>(std::strtol(arg(1).c_str(), nullptr, 10))));
    if (action == "status") {
      std::ifstream in("/proc/self/status");
      std::string line, extra;
      while (std::getline(in, line)) {
        for (const char* key : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"}) {
          if (line.rfind(std::string(key) + ":", 0) != 0) continue;
          std::string value = line.substr(line.find(':') + 1);
          value.erase(0, value.find_first_not_of(" \t"));
          extra += (extra.empty() ? "" : ",") + std::string("\"") + key + "\":\"" + value + "\"";
        }
      }
      extra += ",\"uid\":" + std::to_string(getuid()) + ",\"gid\":" + std::to_string(getgid()) +
               ",\"pid\":" + std::to_string(getpid()) + ",\"cgroup\":\"" + own_cgroup() + "\"";
      return report("status", true, 0, extra);
    }
    if (action == "open-write") {
      int fd = open(arg(0).c_str(), O_WRONLY | O_CLOEXEC);
      const int saved = errno;
      if (fd >= 0) close(fd);
      errno = saved;
      return result("open-write", fd);
    }
    if (action == "unlink") return result("unlink", unlink(arg(0).c_str()));
    if (action == "list") {
      DIR* dir = opendir(arg(0).c_str());
      if (!dir) return result("list", -1);
      int entries = 0;
      while (dirent* e = readdir(dir))  // NOLINT(concurrency-mt-unsafe): one thread, one stream
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++entries;
      closedir(dir);
      return report("list", true, 0, "\"entries\":" + std::to_string(entries));
    }
    if (action == "setpriority")
      return result(
          "setpriority",
          setpriority(PRIO_PROCESS, static_cast<id_t>(static_cast<int>(std::strtol(arg(0).c_str(), nullptr, 10))), 19));
    if (action == "prlimit") {
      rlimit old{};
      return result("prlimit",
                    prlimit(static_cast<int>(std::strtol(arg(0).c_str(), nullptr, 10)), RLIMIT_NOFILE, nullptr, &old));
    }
    if (action == "see-pid") {
      struct stat st {};
      return result("see-pid", stat(("/proc/" + arg(0)).c_str(), &st));
    }
    if (action == "wait-for") {
      if (argc < 4) return usage();
      report("wait-for", true, 0, "\"waiting\":true");
      for (int i = 0; i < 600 && access(arg(0).c_str(), F_OK) != 0; ++i) usleep(100'000);
      argv[2] = const_cast<char*>("sysprobe");
      execv("/proc/self/exe", argv + 2);
      return result("wait-for", -1);
    }
    if (action == "loosen") return loosen(arg(0));
    if (action == "child") return argc > 2 ? child(argv + 2) : usage();
    if (action == "bench") return bench(args);
  } catch (const std::out_of_range&) {
    return usage();
  }
  return usage();
}
