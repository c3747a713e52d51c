// sandbox::PopulatedWatch on the real kernel: a cgroup's state is read once,
// and again only after the kernel's notice on its cgroup.events (so the
// sweep costs nothing for sandboxes that did not change); a removed cgroup,
// or another under its path, is gone. Root and cgroup2, as the BPF tests.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "agentd/sandbox/cgroup.hpp"
#include "agentd/sandbox/cgroup_mount.hpp"
#include "agentd/sandbox/populated_watch.hpp"

using agentd::sandbox::PopulatedWatch;
namespace fs = std::filesystem;

namespace {

void require_root() {
  if (geteuid() == 0) return;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing sets it
  if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
    FAIL("the cgroup tests need root (CI=true: a failure, not a skip)");
  std::_Exit(77);
}

// A cgroup of the test's own, removed at the end (its process killed first).
struct TestCgroup {
  fs::path path;
  TestCgroup() {
    auto mount = agentd::sandbox::find_cgroup2_mount();
    REQUIRE(mount.ok());
    path = *mount / ("agentd-populated-" + std::to_string(::getpid()));
    fs::create_directory(path);
  }
  ~TestCgroup() {
    std::ofstream(path / "cgroup.kill") << "1" << std::flush;
    for (int i = 0; i < 100 && ::rmdir(path.c_str()) != 0 && errno == EBUSY; ++i) ::usleep(10'000);
  }
  uint64_t id() const { return *agentd::sandbox::cgroup_id_of(path); }
};

// Waits (bounded, not timed) for the watch's next notice, then takes it.
bool notice_arrives(PopulatedWatch& watch) {
  pollfd readable{watch.fd(), POLLIN, 0};
  const bool arrived = ::poll(&readable, 1, 10'000) == 1;
  watch.drain();
  return arrived;
}

using State = std::optional<bool>;

// A watch, and a cgroup of the test's own to ask it about.
struct Watched {
  TestCgroup cgroup;
  uint64_t id = cgroup.id();
  PopulatedWatch watch = opened();

  static PopulatedWatch opened() {
    auto watch = PopulatedWatch::open();
    REQUIRE(watch.ok());
    return std::move(*watch);
  }
};

}  // namespace

TEST_CASE("a sandbox's cgroup is read once, and again only after the kernel says it changed", "[each-kernel]") {
  require_root();
  Watched w;
  auto& [cgroup, id, watch] = w;

  CHECK(*watch.populated(1, cgroup.path, id) == State(false));
  CHECK(watch.reads() == 1);
  CHECK(watch.watched() == 1);
  // Asked again with nothing changed: nothing read.
  CHECK(*watch.populated(1, cgroup.path, id) == State(false));
  CHECK(watch.reads() == 1);

  // A process joins: one notice, one read, then nothing read again.
  int gate[2];
  REQUIRE(::pipe(gate) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(gate[1]);
    char byte;
    (void)!::read(gate[0], &byte, 1);  // until the test closes its end
    ::_exit(0);
  }
  ::close(gate[0]);
  std::ofstream(cgroup.path / "cgroup.procs") << child << std::flush;
  REQUIRE(notice_arrives(watch));
  CHECK(*watch.populated(1, cgroup.path, id) == State(true));
  CHECK(watch.reads() == 2);
  CHECK(*watch.populated(1, cgroup.path, id) == State(true));
  CHECK(watch.reads() == 2);

  // Its last process exits: empty.
  ::close(gate[1]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(notice_arrives(watch));
  CHECK(*watch.populated(1, cgroup.path, id) == State(false));
  CHECK(watch.reads() == 3);

  // Removed: gone, though kernfs sends no notice of it. Another cgroup made
  // under the same path is not this sandbox's.
  REQUIRE(::rmdir(cgroup.path.c_str()) == 0);
  watch.drain();  // the parent's notice of it, queued by the rmdir
  CHECK(*watch.populated(1, cgroup.path, id) == State());
  CHECK(watch.watched() == 0);
  fs::create_directory(cgroup.path);
  CHECK(*watch.populated(1, cgroup.path, id) == State());

  // The slot's next sandbox, in that new cgroup, is watched afresh; and a
  // forgotten slot holds no watch.
  CHECK(*watch.populated(1, cgroup.path, cgroup.id()) == State(false));
  CHECK(watch.watched() == 1);
  watch.forget(1);
  CHECK(watch.watched() == 0);
  CHECK(watch.unwatched() == 0);
}

TEST_CASE("an empty cgroup costs nothing to ask about until its parent says it was removed", "[each-kernel]") {
  require_root();
  Watched w;
  auto& [cgroup, id, watch] = w;
  CHECK(*watch.populated(1, cgroup.path, id) == State(false));
  // Removed and made again under the same path between two questions: the
  // parent's notice makes the next question look, and the new directory is
  // another cgroup.
  REQUIRE(::rmdir(cgroup.path.c_str()) == 0);
  fs::create_directory(cgroup.path);
  CHECK(*watch.populated(1, cgroup.path, id) == State(false));  // no notice taken yet: as of the last drain
  watch.drain();
  CHECK(*watch.populated(1, cgroup.path, id) == State());
  CHECK(watch.reads() == 1);
}

TEST_CASE("a cgroup that is not there is gone, and a question about it changes nothing else", "[each-kernel]") {
  require_root();
  auto opened = PopulatedWatch::open();
  REQUIRE(opened.ok());
  const fs::path missing = fs::path("/nonexistent-agentd-cgroup") / std::to_string(::getpid());
  CHECK(*opened->populated(7, missing, 12345) == State());
  CHECK(opened->watched() == 0);
  CHECK(opened->reads() == 0);
}
