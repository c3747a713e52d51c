// The fleet's convergence benchmark of issue 18 (not a test): the time from
// `agentctl policy push` to the new policy applied on every host, for 10,
// 50 and 200 hosts following one real three-member etcd.
//
//   build/tests/bench/bench_fleet [rules] [hosts...]   (default 1000 10 50 200)
//
// A host here is simulated in this process, but with agentd's own parts:
// its etcd watch (daemon/fleet_watch: a thread reading the policy whole,
// watching, reading again on each change, handing over to an sd_event
// loop of its own), the loader and the compile (policy/), and the map
// writes of a reload (daemon/policy_applier) into the kernel's maps as
// the unit tests keep them in memory (tests/unit/memory_maps.hpp), for
// one sandbox. What is not simulated: the kernel's map writes, which a
// real host makes (they are what bench_reload and bench_scale measure).
// 200 real agentd processes, each with its own network world, do not fit
// this 2-core machine; the e2e fleet tests run two real ones.
//
// Each round pushes the policy with one rule more than the last (a
// realistic change) and waits until every host applied that revision. The
// hosts share this process's two cores: the time per host is the
// convergence time over the host count, an upper bound on one host's work.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <systemd/sd-event.h>

#include "agentd/daemon/fleet_watch.hpp"
#include "agentd/daemon/policy_applier.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/fleet/etcd_client.hpp"
#include "agentd/fleet/key_layout.hpp"
#include "agentd/policy/loader.hpp"
#include "agentd/policy/names.hpp"
#include "bench_policy.hpp"
#include "bench_stats.hpp"
#include "etcd_cluster.hpp"
#include "memory_maps.hpp"
#include "world.hpp"

using namespace agentd;
using namespace agentd::e2e;
using Clock = std::chrono::steady_clock;

namespace {

std::string policy_text(int rules) {
  return "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n" +
         bench::random_prefix_rules(rules);
}

// One host: its watch, its loop and thread, its applier on maps in memory.
class SimulatedHost {
 public:
  SimulatedHost(const std::string& endpoints, int index) {
    daemon::Sandbox sandbox;
    sandbox.agent = *policy::parse_agent_name(fmt::format("acme/eng/coder-{}", index));
    sandbox.slot = 1;
    sandbox.cgroup_id = 100;
    sandbox.generation = 1;
    registry_.put(sandbox);
    sd_event* loop = nullptr;
    if (sd_event_new(&loop) < 0) throw std::runtime_error("sd_event_new");
    loop_.reset(loop);
    fleet::EtcdConfig config;
    config.endpoints = *fleet::parse_endpoints(endpoints);
    auto watch =
        daemon::FleetWatch::start(loop_.get(), *fleet::EtcdClient::make(config), *fleet::KeyLayout::make("/agentd"),
                                  [this](daemon::FleetWatch::Update update) { apply(std::move(update)); });
    if (!watch) throw std::runtime_error("the watch: " + watch.error().describe());
    watch_ = std::move(*watch);
    thread_ = std::thread([this] {
      while (!stop_) sd_event_run(loop_.get(), 100'000);
    });
  }
  ~SimulatedHost() {
    watch_.reset();  // its thread first: it hands over to the loop
    stop_ = true;
    thread_.join();
  }
  int64_t applied() const { return applied_revision_; }
  Clock::time_point applied_at() const { return applied_at_; }
  uint64_t failures() const { return failures_; }

 private:
  // On the host's loop, as agentd's reload: load, compile, write.
  void apply(daemon::FleetWatch::Update update) {
    if (!update.snapshot) {
      ++failures_;
      return;
    }
    auto loaded = policy::parse_policy_texts(update.snapshot->tenants, update.snapshot->presets);
    if (!loaded.ok() ||
        !applier_.apply(std::make_shared<const policy::PolicySet>(std::move(*loaded.policy)), registry_)) {
      ++failures_;
      return;
    }
    applied_at_ = Clock::now();
    applied_revision_ = update.snapshot->revision;
  }

  testing::MemoryMaps maps_;
  daemon::SandboxRegistry registry_{4};
  daemon::PolicyApplier applier_{maps_};
  SdEventPtr loop_;
  std::unique_ptr<daemon::FleetWatch> watch_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> applied_revision_{0};
  std::atomic<Clock::time_point> applied_at_{};
  std::atomic<uint64_t> failures_{0};
  std::thread thread_;
};

// `agentctl policy push DIR`; the revision it wrote.
int64_t push(const World& world, const EtcdCluster& etcd, const std::filesystem::path& dir) {
  auto result = world.agentctl({"policy", "push", dir.string(), "--etcd-endpoints", etcd.endpoints(), "-o", "json"});
  if (result.exit_code != 0) throw std::runtime_error("push: " + result.describe());
  return nlohmann::json::parse(result.out)["revision"].get<int64_t>();
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): a benchmark ends on what it cannot do
  const int rules = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 1000;
  std::vector<int> counts;
  for (int i = 2; i < argc; ++i) counts.push_back(static_cast<int>(std::strtol(argv[i], nullptr, 10)));
  if (counts.empty()) counts = {10, 50, 200};
  World world;
  EtcdCluster etcd(world);
  // The hosts' connections start in the world's host namespace, where
  // etcd listens on 127.0.0.1: threads made after this inherit it.
  const int netns = ::open(world.host_ns_path().c_str(), O_RDONLY | O_CLOEXEC);
  if (netns < 0 || ::setns(netns, CLONE_NEWNET) != 0) throw std::runtime_error("entering the world's namespace");
  ::close(netns);

  const auto dir = world.dir() / "push";
  std::filesystem::create_directories(dir);
  int extra = 0;
  const auto write_policy = [&] {
    std::ofstream(dir / "acme.yaml") << policy_text(rules)
                                     << fmt::format("      - cidr: 203.0.113.{}/32\n", extra++ % 250);
  };
  write_policy();
  push(world, etcd, dir);
  nlohmann::json report = nlohmann::json::array();
  std::printf("fleet convergence: %d-rule policy, one rule more each push, a real 3-member etcd\n", rules);
  for (int hosts : counts) {
    std::vector<std::unique_ptr<SimulatedHost>> fleet;
    fleet.reserve(static_cast<size_t>(hosts));
    for (int i = 0; i < hosts; ++i) fleet.push_back(std::make_unique<SimulatedHost>(etcd.endpoints(), i));
    std::vector<double> rounds;
    for (int round = 0; round < 5; ++round) {
      write_policy();
      const auto started = Clock::now();
      const int64_t revision = push(world, etcd, dir);
      const auto give_up = started + std::chrono::seconds(120);
      while (Clock::now() < give_up &&
             !std::all_of(fleet.begin(), fleet.end(), [&](const auto& h) { return h->applied() == revision; }))
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      Clock::time_point last = started;
      size_t behind = 0;
      for (const auto& h : fleet) {
        if (h->applied() != revision) ++behind;
        last = std::max(last, h->applied_at());
      }
      if (behind)
        throw std::runtime_error(fmt::format("{} of {} hosts did not apply revision {}", behind, hosts, revision));
      rounds.push_back(std::chrono::duration<double, std::milli>(last - started).count());
    }
    uint64_t failures = 0;
    for (const auto& h : fleet) failures += h->failures();
    const double median = bench::median(rounds);
    std::printf(
        "  %3d hosts: push to applied on all, median %.0f ms (range %.0f-%.0f ms over %zu pushes), %.2f ms "
        "per host; %lu failed applies (goal: 200 hosts under 5 s)\n",
        hosts, median, *std::min_element(rounds.begin(), rounds.end()), *std::max_element(rounds.begin(), rounds.end()),
        rounds.size(), median / hosts, failures);
    report.push_back({{"hosts", hosts},
                      {"rules", rules},
                      {"median_ms", median},
                      {"rounds_ms", rounds},
                      {"ms_per_host", median / hosts},
                      {"failed_applies", failures}});
  }
  std::printf("%s\n", report.dump().c_str());
}
