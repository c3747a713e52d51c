// Running commands from tests: no shell, captured output, by pid only.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace agentd::e2e {

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out, err;
  std::string describe() const;  // for INFO/failure messages
};

// Runs argv to completion and captures stdout and stderr.
ProcessResult run_process(const std::vector<std::string>& argv);

// Starts argv in the background with stdout and stderr to files.
pid_t spawn_process(const std::vector<std::string>& argv, const std::filesystem::path& out,
                    const std::filesystem::path& err);

// Sends `signal`, waits up to `grace_ms` for the exit, then SIGKILLs.
// Returns the exit status as run_process reports it.
int stop_process(pid_t pid, int signal, int grace_ms = 5000);

// Non-blocking: the exit status if the process has ended, -1 if it runs.
int poll_exit(pid_t pid);

std::string read_file(const std::filesystem::path& path);

}  // namespace agentd::e2e
