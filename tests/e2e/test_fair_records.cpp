// Issue 12, the records side: one sandbox's flood of denials to distinct
// destinations costs another tenant's sandbox no record, every denial of
// the flooding sandbox is accounted for (recorded, suppressed, held by its
// record budget, or dropped: counted per sandbox), its approval requests
// stay bounded with one "N more destinations" entry, and the store stays
// under its cap while it is written.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

const std::string kFlooder = "acme/eng/coder-1";
const std::string kOther = "globex/eng/bot";

// A counter of a sandbox's status entry; 0 when the sandbox has none yet.
uint64_t count_of(const json& sandbox, const char* what) {
  return sandbox.is_object() ? sandbox.value(what, uint64_t{0}) : 0;
}

std::vector<json> records_of(const World& world, const std::string& agent) {
  std::vector<json> mine;
  for (auto& r : world.denials())
    if (r.value("sandbox", json()).is_string() && r["sandbox"] == agent) mine.push_back(std::move(r));
  return mine;
}

uint64_t bytes_on_disk(const std::filesystem::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// The store as the disk sees it: the database and its WAL.
uint64_t store_on_disk(const std::filesystem::path& db) {
  return bytes_on_disk(db) + bytes_on_disk(db.string() + "-wal");
}

// Polls (bounded) until `done` holds on a fresh status; returns the last.
template <typename Done>
json poll_status(const World& world, Done done, int tries = 300) {
  json status = daemon_status(world);
  for (int i = 0; i < tries && !done(status); ++i) {
    usleep(100'000);
    status = daemon_status(world);
  }
  return status;
}

// Polls until `done` holds, for as long as `progress` keeps growing: a
// flood that runs slower (an emulated CPU, a sandbox held to its CPU
// share) takes longer; one that stalls ends the wait after `stall_tries`
// polls (10 s) without progress, and none waits past `max_tries` (200 s,
// within ctest's timeout, so the world is still torn down).
template <typename Done, typename Progress>
json poll_while_progressing(const World& world, Done done, Progress progress, int stall_tries = 100,
                            int max_tries = 2000) {
  json status = daemon_status(world);
  uint64_t most = progress(status);
  for (int stalled = 0, tries = 0; stalled < stall_tries && tries < max_tries && !done(status); ++tries) {
    usleep(100'000);
    status = daemon_status(world);
    const uint64_t now = progress(status);
    stalled = now > most ? 0 : stalled + 1;
    most = std::max(most, now);
  }
  return status;
}

// Every record the kernel wrote for `agent` reached events.jsonl.
json drained(const World& world, const std::string& agent) {
  return poll_status(world, [&](const json& s) {
    return records_of(world, agent).size() == count_of(sandbox_in(s, agent), "recorded");
  });
}

void start(World& world, const std::vector<std::string>& args) {
  world.write_policy("acme.yaml", kAcmePolicy);
  world.write_policy("globex.yaml", kGlobexPolicy);
  INFO(world.agentd_log());
  REQUIRE(world.start_agentd(args));
}

}  // namespace

TEST_CASE("a flood of distinct destinations costs another tenant no record, and every denial is accounted for") {
  World world;
  // Default record budget; a small store cap.
  start(world, {"--audit-max-mb", "1"});
  const auto stop = world.dir() / "stop-spray";
  pid_t spray = world.spawn_in_sandbox(kFlooder, {"spray", stop.string()}, "spray");
  // The flood is on once its budget holds records back.
  auto status = poll_status(world, [](const json& s) { return count_of(sandbox_in(s, kFlooder), "held") > 0; });
  REQUIRE(count_of(sandbox_in(status, kFlooder), "held") > 0);

  // Meanwhile another tenant's sandbox is denied 20 times, 20 destinations.
  for (int i = 0; i < 20; ++i)
    expect_refused(world.netprobe_in_sandbox(kOther, {"connect", "tcp", "192.0.2.200", std::to_string(2001 + i)}));

  std::ofstream(stop) << "stop";
  auto sprayed = world.wait_spawned(spray, "spray");
  INFO(sprayed.describe());
  const auto outcome = last_line(sprayed);
  REQUIRE(outcome.is_object());
  const uint64_t attempts = outcome["refused"].get<uint64_t>();
  CHECK(outcome["connected"] == 0);
  CHECK(outcome["other"] == 0);

  // What the budget still holds comes with the flooder's next record: a
  // few more denials (each to a new destination) until one is recorded.
  uint64_t closing = 0;
  for (; closing < 50; ++closing) {
    const auto before = count_of(sandbox_in(daemon_status(world), kFlooder), "recorded");
    expect_refused(
        world.netprobe_in_sandbox(kFlooder, {"connect", "tcp", "192.0.2.250", std::to_string(40000 + closing)}));
    if (count_of(sandbox_in(daemon_status(world), kFlooder), "recorded") > before) {
      ++closing;
      break;
    }
  }
  status = drained(world, kFlooder);
  status = drained(world, kOther);

  // The other tenant lost nothing: 20 denials, 20 records, none held or dropped.
  const json other = sandbox_in(status, kOther);
  CHECK(count_of(other, "denied") == 20);
  CHECK(count_of(other, "held") == 0);
  CHECK(count_of(other, "dropped") == 0);
  std::set<int> ports;
  for (const auto& r : records_of(world, kOther)) ports.insert(r["port"].get<int>());
  CHECK(ports.size() == 20);

  // The flooder: every attempt counted, in exactly one of four places...
  const json flooder = sandbox_in(status, kFlooder);
  INFO(flooder.dump());
  CHECK(count_of(flooder, "denied") == attempts + closing);
  CHECK(count_of(flooder, "denied") == count_of(flooder, "recorded") + count_of(flooder, "suppressed") +
                                           count_of(flooder, "held") + count_of(flooder, "dropped"));
  // ...and what was not recorded is reported in the records that were.
  const auto records = records_of(world, kFlooder);
  uint64_t reported = 0;
  for (const auto& r : records)
    reported += 1 + r.value("suppressed_before", uint64_t{0}) + r.value("held_before", uint64_t{0});
  CHECK(records.size() == count_of(flooder, "recorded"));
  CHECK(reported + count_of(flooder, "dropped") == count_of(flooder, "denied"));
  // The budget kept the flood to a small share of the ring.
  CHECK(count_of(flooder, "recorded") < attempts / 2);
  // The daemon's totals are the sandboxes' sums (read in one batch per map).
  CHECK(status["events"]["held"] == count_of(flooder, "held") + count_of(other, "held"));
  CHECK(status["events"]["suppressed"] == count_of(flooder, "suppressed") + count_of(other, "suppressed"));
  CHECK(status["events"]["dropped_by_sandboxes"] == count_of(flooder, "dropped") + count_of(other, "dropped"));

  // Approval requests stay bounded; the rest is one fold entry.
  const json approvals = status["approvals"];
  const uint64_t per_sandbox = approvals["caps"]["per_sandbox"].get<uint64_t>();
  auto list = world.agentctl({"approvals", "list", "-o", "json"});
  REQUIRE(list.exit_code == 0);
  uint64_t flooder_pending = 0, other_pending = 0;
  for (const auto& r : json::parse(list.out)) {
    flooder_pending += r["sandbox"] == kFlooder;
    other_pending += r["sandbox"] == kOther;
  }
  CHECK(flooder_pending == per_sandbox);
  CHECK(other_pending == 20);  // below its cap: each is a request of its own
  CHECK(approvals["folds"] == 1);
  auto text = world.agentctl({"approvals", "list"});
  INFO(text.describe());
  CHECK(text.out.find(kFlooder + ": ") != std::string::npos);
  CHECK(text.out.find("more destinations from this sandbox") != std::string::npos);
  auto expanded = world.agentctl({"approvals", "list", "--expand", kFlooder, "-o", "json"});
  INFO(expanded.describe());
  REQUIRE(expanded.exit_code == 0);
  const json fold = json::parse(expanded.out);
  CHECK(fold["destinations"].get<uint64_t>() > 0);
  REQUIRE_FALSE(fold["kept"].empty());
  CHECK(fold["kept"][0]["dest"].get<std::string>().rfind("192.0.2.", 0) == 0);
  auto missing = world.agentctl({"approvals", "list", "--expand", kOther});
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("no fold entry") != std::string::npos);

  // The store stayed under its (small) cap.
  CHECK(approvals["store"]["bytes"].get<uint64_t>() <= (1u << 20));
}

TEST_CASE("a flood of new destinations cannot push another sandbox's held-back count out of the shared rate limit") {
  World world;
  start(world, {});
  // The other sandbox repeats one denied destination: a few records, the
  // rest held back by the per-destination limit for its next record.
  const auto stop_other = world.dir() / "stop-loop";
  pid_t loop = world.spawn_in_sandbox(kOther, {"loop", "192.0.2.201", "3000", stop_other.string()}, "loop");
  auto status = poll_status(world, [](const json& s) { return count_of(sandbox_in(s, kOther), "suppressed") >= 100; });
  std::ofstream(stop_other) << "stop";
  (void)world.wait_spawned(loop, "loop");
  REQUIRE(count_of(sandbox_in(status, kOther), "suppressed") >= 100);

  // The flooder sprays three times more new destinations than the shared
  // limit map holds (65,536). Past its record budget it adds none; within
  // it, the map's LRU evicts streams seen once before one seen often.
  const auto stop = world.dir() / "stop-spray";
  pid_t spray = world.spawn_in_sandbox(kFlooder, {"spray", stop.string()}, "spray");
  auto flooder_denied = [](const json& s) { return count_of(sandbox_in(s, kFlooder), "denied"); };
  status = poll_while_progressing(
      world, [&](const json& s) { return flooder_denied(s) > 200'000; }, flooder_denied);
  std::ofstream(stop) << "stop";
  (void)world.wait_spawned(spray, "spray");
  REQUIRE(count_of(sandbox_in(status, kFlooder), "denied") > 200'000);

  // A second later the other sandbox's next denial there carries all it held.
  usleep(1'100'000);
  expect_refused(world.netprobe_in_sandbox(kOther, {"connect", "tcp", "192.0.2.201", "3000"}));
  status = drained(world, kOther);
  const json other = sandbox_in(status, kOther);
  INFO(other.dump());
  uint64_t reported = 0;
  for (const auto& r : records_of(world, kOther))
    reported += 1 + r.value("suppressed_before", uint64_t{0}) + r.value("held_before", uint64_t{0});
  CHECK(count_of(other, "dropped") == 0);
  CHECK(reported == count_of(other, "denied"));
  CHECK(world.agentctl({"status"}).exit_code == 0);
}

TEST_CASE("a storm of stored denials never grows the store past its cap, and the write rate is bounded",
          "[kernel-neutral]") {
  World world;
  // A budget so large that the store, not the kernel, is what a storm meets.
  start(world, {"--audit-max-mb", "1", "--sandbox-records-per-second", "100000", "--sandbox-record-burst", "100000",
                "--audit-max-denials-per-second", "3000"});
  const auto stop = world.dir() / "stop-spray";
  const auto db = world.state_dir() / "agentd.db";
  pid_t spray = world.spawn_in_sandbox(kFlooder, {"spray", stop.string()}, "spray");
  uint64_t largest_used = 0, largest_file = 0;
  auto status = poll_status(
      world,
      [&](const json& s) {
        largest_used = std::max(largest_used, s["approvals"]["store"]["bytes"].get<uint64_t>());
        largest_file = std::max(largest_file, store_on_disk(db));
        return s["approvals"]["store"]["pruned_for_size"].get<uint64_t>() > 0;
      },
      900);
  std::ofstream(stop) << "stop";
  auto sprayed = world.wait_spawned(spray, "spray");
  INFO(sprayed.describe());
  status = daemon_status(world);
  const json store = status["approvals"]["store"];
  INFO(store.dump());
  // The cap was reached (the oldest went for size) and never passed.
  REQUIRE(store["pruned_for_size"].get<uint64_t>() > 0);
  CHECK(largest_used <= (1u << 20));
  CHECK(largest_file <= (1u << 20));
  CHECK(store_on_disk(db) <= (1u << 20));
  CHECK(store["file_bytes"].get<uint64_t>() <= (1u << 20));
  // No second stored more denial rows than the limit.
  CHECK(store["denial_rows"]["busiest_second"].get<uint64_t>() <= 3000);
  // The accounting closes here too, whatever the ring took.
  const json flooder = sandbox_in(status, kFlooder);
  CHECK(count_of(flooder, "denied") == count_of(flooder, "recorded") + count_of(flooder, "suppressed") +
                                           count_of(flooder, "held") + count_of(flooder, "dropped"));
}

TEST_CASE("sandboxes of one tenant together reach its request cap and another tenant still gets requests",
          "[kernel-neutral]") {
  World world;
  start(world, {"--approval-requests-per-sandbox", "4", "--approval-requests-per-tenant", "6"});
  const std::string first = "acme/eng/coder-1", second = "acme/eng/coder-2";
  auto pending = [](const json& s, const std::string& agent) {
    return s["approvals"]["pending_by_sandbox"].value(agent, uint64_t{0});
  };
  // The first sandbox takes its own cap, 4 of the tenant's 6.
  for (int i = 0; i < 4; ++i) expect_refused(connect_from(world, first, "192.0.2.200", 3001 + i));
  json status = poll_status(world, [&](const json& s) { return pending(s, first) == 4; });
  REQUIRE(pending(status, first) == 4);
  // The second, below its own cap, gets 2: then the tenant is at 6 and
  // its further destinations fold.
  for (int i = 0; i < 4; ++i) expect_refused(connect_from(world, second, "192.0.2.200", 3101 + i));
  // Another tenant's sandbox is below its tenant's cap: requests of its own.
  for (int i = 0; i < 3; ++i) expect_refused(connect_from(world, kOther, "192.0.2.200", 3201 + i));
  status = poll_status(world, [&](const json& s) {
    return pending(s, kOther) == 3 && s["approvals"]["requests_folded"].get<uint64_t>() >= 2;
  });
  const json& a = status["approvals"];
  INFO(a.dump());
  CHECK(pending(status, first) == 4);
  CHECK(pending(status, second) == 2);
  CHECK(pending(status, kOther) == 3);
  CHECK(a["pending_requests"] == 9);
  CHECK(a["requests_folded"] == 2);
  CHECK(a["folds"] == 1);
  auto expanded = agentctl_json(world, {"approvals", "list", "--expand", second});
  REQUIRE(expanded.is_object());
  CHECK(expanded["why"] == "6 pending requests of its tenant");
  CHECK(expanded["destinations"] == 2);
  REQUIRE(expanded["kept"].size() == 2);
  CHECK(expanded["kept"][0]["port"] == 3103);
  CHECK(expanded["kept"][1]["port"] == 3104);
  // The first sandbox, at the tenant's cap too, folds nothing yet: no fold of its own.
  CHECK(world.agentctl({"approvals", "list", "--expand", first}).exit_code != 0);
}

TEST_CASE("refused names fold too past the per-sandbox request cap", "[kernel-neutral]") {
  World world;
  start(world, {"--approval-requests-per-sandbox", "3"});
  // Six names no host rule of acme allows: each refused by the proxy.
  std::string loop = "for n in 1 2 3 4 5 6; do dig @198.51.100.53 +tries=1 +time=3 +short fold-$n.example.test; done";
  auto dug = world.in_sandbox(kFlooder, {"sh", "-c", loop});
  INFO(dug.describe());
  auto names_pending = [&](const json& list) {
    size_t n = 0;
    if (list.is_array())
      for (const auto& r : list) n += r["sandbox"] == kFlooder && r["protocol"] == "dns";
    return n;
  };
  json status =
      poll_status(world, [](const json& s) { return s["approvals"]["requests_folded"].get<uint64_t>() >= 3; });
  const json& a = status["approvals"];
  INFO(a.dump());
  CHECK(a["requests_folded"] == 3);
  CHECK(a["folds"] == 1);
  CHECK(a["pending_by_sandbox"].value(kFlooder, uint64_t{0}) == 3);
  CHECK(names_pending(agentctl_json(world, {"approvals", "list"})) == 3);
  auto expanded = agentctl_json(world, {"approvals", "list", "--expand", kFlooder});
  REQUIRE(expanded.is_object());
  CHECK(expanded["why"] == "3 pending requests of this sandbox");
  CHECK(expanded["destinations"] == 3);
  REQUIRE(expanded["kept"].size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(expanded["kept"][i]["protocol"] == "dns");
    CHECK(expanded["kept"][i]["host"] == "fold-" + std::to_string(4 + i) + ".example.test");
  }
  // Only the first three opened requests; the rest are in the fold alone.
  CHECK(a.value("requests_created", uint64_t{0}) == 3);
}
