#include "agentd/daemon/off_loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include "agentd/common/guard.hpp"

namespace agentd::daemon {

Result<std::unique_ptr<OffLoop>> OffLoop::create(sd_event* loop) {
  std::unique_ptr<OffLoop> off(new OffLoop());
  off->wakeup_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!off->wakeup_) return system_error("creating the eventfd for off-loop work");
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_io(loop, &source, off->wakeup_.get(), EPOLLIN, &OffLoop::on_wakeup, off.get()); r < 0) {
    errno = -r;
    return system_error("watching the eventfd for off-loop work");
  }
  off->source_.reset(source);
  return off;
}

OffLoop::~OffLoop() {
  source_.reset();
  for (auto& task : tasks_)
    if (task->thread.joinable()) task->thread.join();
}

void OffLoop::run(std::function<void()> work, std::function<void()> done) {
  auto task = std::make_unique<Task>();
  task->done = std::move(done);
  Task* raw = task.get();
  const int fd = wakeup_.get();
  raw->thread = std::thread([raw, fd, work = std::move(work)] {
    // An exception leaving a thread would end the process (std::terminate).
    guarded("off-loop work", raw->failed, work);
    raw->finished = true;
    const uint64_t one = 1;
    (void)!::write(fd, &one, sizeof(one));
  });
  tasks_.push_back(std::move(task));
}

int OffLoop::on_wakeup(sd_event_source*, int fd, uint32_t, void* self) {
  uint64_t count = 0;
  (void)!::read(fd, &count, sizeof(count));
  auto* off = static_cast<OffLoop*>(self);
  for (auto it = off->tasks_.begin(); it != off->tasks_.end();) {
    if (!(*it)->finished) {
      ++it;
      continue;
    }
    (*it)->thread.join();
    off->failed_ += (*it)->failed;
    auto done = std::move((*it)->done);
    it = off->tasks_.erase(it);
    guarded("finishing off-loop work", off->failed_, done);  // may start new work: the list is consistent by now
  }
  return 0;
}

}  // namespace agentd::daemon
