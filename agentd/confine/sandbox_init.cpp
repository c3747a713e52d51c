#include "agentd/confine/sandbox_init.hpp"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>

namespace agentd::confine {
namespace {

volatile pid_t command_pid = -1;

void forward(int sig) { ::kill(command_pid, sig); }

}  // namespace

int reset_signals() {
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  return sigprocmask(SIG_SETMASK, &none, nullptr) == 0 ? 0 : errno;
}

void run_sandbox_init(pid_t command) {
  command_pid = command;
  struct sigaction pass {
  }, ignore{};
  pass.sa_handler = forward;
  pass.sa_flags = SA_RESTART;
  ignore.sa_handler = SIG_IGN;
  // What agentctl forwards, and what an operator may send the init by pid.
  for (int sig : {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) sigaction(sig, &pass, nullptr);
  // The terminal sends ^C and ^\ to the whole foreground group, the
  // command included: passing them on would deliver them twice.
  for (int sig : {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU}) sigaction(sig, &ignore, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (;;) {
    int status = 0;
    const pid_t ended = ::waitpid(-1, &status, 0);
    if (ended < 0 && errno == EINTR) continue;
    if (ended < 0) _exit(126);       // no children left without the command: cannot happen
    if (ended != command) continue;  // an orphan, reaped
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1);
  }
}

}  // namespace agentd::confine
