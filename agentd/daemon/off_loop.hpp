// Runs slow work on a thread of its own and hands control back on the
// event loop: parsing and compiling a large policy must not hold up the
// loop that answers the control socket and drains denial records.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <thread>

#include "agentd/common/result.hpp"
#include "agentd/common/sd_event_ptr.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::daemon {

class OffLoop {
 public:
  static Result<std::unique_ptr<OffLoop>> create(sd_event* loop);
  // Waits for work still running; its `done` is not called.
  ~OffLoop();

  // `work` runs on a new thread and must not touch loop-owned state;
  // `done` runs on the loop once `work` has returned.
  // An exception from `work` is logged and counted, and `done` still
  // runs (it finds the results `work` did not set, as it left them).
  void run(std::function<void()> work, std::function<void()> done);
  // Work and completions that threw; each was logged.
  uint64_t failed() const { return failed_; }

 private:
  struct Task {
    std::function<void()> done;
    std::atomic<bool> finished{false};
    uint64_t failed = 0;  // written by the thread before `finished`
    std::thread thread;
  };

  OffLoop() = default;
  static int on_wakeup(sd_event_source*, int fd, uint32_t, void* self);

  UniqueFd wakeup_;  // eventfd: a thread finished
  SdEventSourcePtr source_;
  std::list<std::unique_ptr<Task>> tasks_;
  uint64_t failed_ = 0;
};

}  // namespace agentd::daemon
