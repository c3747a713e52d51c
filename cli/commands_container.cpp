// Containers as sandboxes: `agentctl oci-hook` (run by Podman, or any OCI
// runtime, through the hooks.d file the package ships) and `agentctl
// sandbox adopt --container` (a container that already runs). Both find
// the container's cgroup from its first process and ask agentd to adopt it.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd/sandbox/cgroup.hpp"
#include "agentd/sandbox/cgroup_mount.hpp"
#include "agentd/confine/container_ref.hpp"
#include "commands.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): unistd.h declares it only under _GNU_SOURCE

namespace agentctl {
namespace {

using agentd::make_error;
using agentd::Result;
using agentd::terminal_text;
using agentd::UniqueFd;

int fail(const std::string& message) {
  std::cerr << "agentctl: " << message << "\n";
  return kExitFailure;
}

// The OCI state is a few hundred bytes; a runtime that sends more than this
// is not sending a state.
constexpr size_t kMaxStateBytes = 1 << 20;

struct Captured {
  int exit_code = -1;
  std::string out, err;
};

// Runs argv (found on PATH) with no shell between, and returns what it
// printed. Output past 64 KiB is cut: an inspect prints one line.
Result<Captured> capture(const std::vector<std::string>& argv) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return agentd::system_error("pipe");
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return agentd::system_error("pipe");
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return make_error("cannot run {}: {}", argv[0], agentd::errno_text(rc));
  out_write.reset();
  err_write.reset();
  Captured result;
  // Both pipes at once: a child that fills one while we wait on the other
  // would wait for us forever.
  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* into[2] = {&result.out, &result.err};
  int open_pipes = 2;
  while (open_pipes > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        if (into[i]->size() < 65536) into[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // ignored by poll from now on
        --open_pipes;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

struct Located {
  std::string engine, id;
  pid_t pid = 0;
};

// `ENGINE container inspect` of the reference: its full id and first pid.
Result<Located> inspect_with(const std::string& engine, const std::string& ref) {
  auto ran = capture({engine, "container", "inspect", "--format", "{{.Id}} {{.State.Pid}}", ref});
  if (!ran) return ran.error();
  if (ran->exit_code != 0) {
    std::string why = ran->err.substr(0, ran->err.find('\n'));
    return make_error("{} knows no container {}{}", engine, ref, why.empty() ? "" : ": " + terminal_text(why));
  }
  std::istringstream fields(ran->out);
  Located found{engine, "", 0};
  long long pid = -1;
  if (!(fields >> found.id >> pid)) return make_error("{} printed no id and pid for {}", engine, ref);
  if (auto st = agentd::confine::check_container_id(found.id); !st) return st.error();
  if (pid <= 1) return make_error("container {} is not running ({} reports pid {})", ref, engine, pid);
  found.pid = static_cast<pid_t>(pid);
  return found;
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): agentctl sets no environment
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access(dir.append("/").append(program).c_str(), X_OK) == 0) return true;
  return false;
}

Result<Located> locate(const std::string& ref, const std::string& engine) {
  if (auto st = agentd::confine::check_container_ref(ref); !st) return st.error();
  if (engine != "auto") return inspect_with(engine, ref);
  // Both engines on one host: the one that knows the container, and never
  // a guess between two that both do.
  std::vector<Located> found;
  std::vector<std::string> misses;
  for (const std::string candidate : {"podman", "docker"}) {
    if (!on_path(candidate)) continue;
    auto located = inspect_with(candidate, ref);
    if (located)
      found.push_back(*located);
    else
      misses.push_back(located.error().describe());
  }
  // podman-docker's `docker` is podman: one container, named twice.
  if (found.size() == 2 && found[0].id == found[1].id) found.pop_back();
  if (found.size() == 1) return found.front();
  if (found.size() > 1) return make_error("both podman and docker have a container {}: say which with --engine", ref);
  if (misses.empty()) return make_error("neither podman nor docker is on PATH: give the cgroup with --cgroup");
  std::string joined;
  for (const auto& m : misses) joined += (joined.empty() ? "" : "; ") + m;
  return make_error("{}", joined);
}

// The cgroup of a container's process, read while a pidfd holds it: a pid
// that exits meanwhile fails the last check instead of naming another. A
// pid from `inspect` may have been reused before the pidfd took it, and a
// container run without a cgroup of its own (podman --cgroups=disabled)
// is in its runtime's or the operator's: either way the cgroup must name
// the container, or nothing is adopted.
Result<std::filesystem::path> container_cgroup(pid_t pid, const std::string& container_id) {
  auto mount = agentd::sandbox::find_cgroup2_mount();
  if (!mount) return mount.error();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return agentd::system_error("the container's process {}", pid);
  auto cgroup = agentd::sandbox::cgroup_of_pid(pid, *mount);
  if (!cgroup) return cgroup.error();
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), 0, nullptr, 0) != 0)
    return make_error("the container's process {} exited while its cgroup was read", pid);
  if (auto st = agentd::confine::check_cgroup_names_container(cgroup->string(), container_id); !st) return st.error();
  return *cgroup;
}

Result<nlohmann::json> adopt(const Globals& g, const std::string& agent, const std::filesystem::path& cgroup,
                             bool unknown_tenant) {
  return agentd::api::call(g.socket,
                           agentd::api::SandboxAdoptRequest{agent, cgroup.string(), unknown_tenant}.to_json());
}

}  // namespace

int sandbox_adopt_container(const Globals& g, const std::string& agent, const std::string& container,
                            const std::string& engine, bool unknown_tenant) {
  auto located = locate(container, engine);
  if (!located) return fail(located.error().describe());
  auto cgroup = container_cgroup(located->pid, located->id);
  if (!cgroup) return fail(cgroup.error().describe());
  auto result = adopt(g, agent, *cgroup, unknown_tenant);
  if (!result) return fail(result.error().describe());
  std::cout << "adopted " << located->engine << " container " << located->id.substr(0, 12) << " ("
            << terminal_text(cgroup->string()) << ") as the sandbox of "
            << terminal_text((*result)["agent"].get<std::string>()) << " (slot " << (*result)["slot"].dump() << ")\n";
  return 0;
}

// The hook's failure, on stderr and in the system log: runc shows a hook's
// stderr, crun only "error executing hook".
int hook_fail(const std::string& message) {
  ::openlog("agentctl-oci-hook", LOG_PID, LOG_DAEMON);
  ::syslog(LOG_ERR, "%s", terminal_text(message).c_str());
  ::closelog();
  return fail("oci-hook: " + message);
}

int oci_hook(const Globals& g) {
  // Whatever fails here fails the container's start: a container asked
  // to be a sandbox never runs outside one.
  std::string state_text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(STDIN_FILENO, buffer, sizeof buffer)) > 0) {
    state_text.append(buffer, static_cast<size_t>(n));
    if (state_text.size() > kMaxStateBytes) return hook_fail("the OCI state on stdin is larger than 1 MiB");
  }
  if (n < 0) return hook_fail("reading the OCI state: " + agentd::errno_text(errno));
  auto state = agentd::confine::parse_oci_state(state_text);
  if (!state) return hook_fail(state.error().describe());
  // The hooks.d file runs the hook only with the annotation; without it
  // (a hook configured by hand for every container) nothing is asked.
  if (state->agent.empty()) return 0;
  auto cgroup = container_cgroup(state->pid, state->id);
  if (!cgroup) return hook_fail(cgroup.error().describe());
  auto result = adopt(g, state->agent, *cgroup, state->unknown_tenant);
  if (!result)
    return hook_fail("container " + terminal_text(state->id.substr(0, 12)) +
                     " is not started: " + result.error().describe());
  return 0;
}

}  // namespace agentctl
