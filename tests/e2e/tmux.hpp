// A tmux server of a test's own for the interactive prompts (agentctl
// watch): keys go in with send-keys, the screen comes back with
// capture-pane.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>

#include <string>

#include "process.hpp"
#include "wait.hpp"
#include "world.hpp"

namespace agentd::e2e {

// A tmux server of the test's own (its own socket name), killed at the end.
class Tmux {
 public:
  explicit Tmux(const World& world) : world_(world), name_("agentd-e2e-" + std::to_string(getpid())) {}
  ~Tmux() { run_process({"tmux", "-L", name_, "kill-server"}); }

  void start(const std::string& session, const std::string& command) {
    auto r = run_process(
        {"tmux", "-L", name_, "-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "160", "-y", "40", command});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
  }
  std::string screen(const std::string& session) const {
    return run_process({"tmux", "-L", name_, "capture-pane", "-p", "-t", session}).out;
  }
  // The screen once it shows `text` (bounded wait), or the last one seen.
  std::string wait_for(const std::string& session, const std::string& text) const {
    std::string shown;
    eventually([&] {
      shown = screen(session);
      return shown.find(text) != std::string::npos;
    });
    return shown;
  }
  void keys(const std::string& session, const std::string& keys) {
    REQUIRE(run_process({"tmux", "-L", name_, "send-keys", "-t", session, keys}).exit_code == 0);
  }

 private:
  const World& world_;
  std::string name_;
};

}  // namespace agentd::e2e
