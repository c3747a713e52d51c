// What may leave the store for size and by age (store_prune.cpp): finished
// requests go with the audit trail that reaches back to them; pending
// requests, running silences, live grants and the largest ids stay; every
// DELETE is bounded.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "agentd/store/store.hpp"
#include "temp_dir.hpp"

using namespace agentd;
using namespace agentd::approvals;
using namespace std::chrono_literals;
using agentd::testing::TempDir;

namespace {

Request request(uint64_t id, RequestState state, Time at) {
  Request r;
  r.id = id;
  r.target = {"acme/eng/a", "192.0.2." + std::to_string(id % 250), static_cast<uint16_t>(1000 + id % 60000), "tcp"};
  r.process = {4242, 1000, "curl", "/usr/bin/curl-with-a-rather-long-path-to-make-rows-bigger"};
  r.count = 1;
  r.first_seen = r.last_seen = at;
  r.expires_at = at + 15min;
  r.state = state;
  if (state != RequestState::pending) {
    r.answered_at = at;
    r.answer = state == RequestState::expired ? "expired unanswered" : "answered";
  }
  return r;
}

store::AuditEvent row(Time at, const std::string& decision, uint64_t request_id) {
  store::AuditEvent e;
  e.time = at;
  e.kind = "expiry";
  e.decision = decision;
  e.actor = "agentd";
  e.sandbox = "acme/eng/a";
  e.dest = "192.0.2.1";
  e.port = 80;
  e.protocol = "tcp";
  e.detail = {{"request_id", request_id}};
  return e;
}

// A store in a folder of its own, with a cap small enough to reach.
struct SmallStore {
  TempDir dir{"agentd-store-prune"};
  std::filesystem::path file = dir.path / "agentd.db";
  store::Retention retention;
  std::unique_ptr<store::Store> s;
  explicit SmallStore(uint64_t max_bytes = uint64_t{256} * 1024) : retention{24h, max_bytes} {
    auto opened = store::Store::open(file, retention);
    REQUIRE(opened);
    s = std::move(*opened);
  }
};

std::set<uint64_t> request_ids(const std::filesystem::path& file) {
  auto db = store::Database::open(file);
  REQUIRE(db);
  auto stmt = db->prepare("SELECT id FROM requests");
  REQUIRE(stmt);
  std::set<uint64_t> ids;
  while (*stmt->step()) ids.insert(static_cast<uint64_t>(stmt->integer(0)));
  return ids;
}

}  // namespace

TEST_CASE("requests that keep expiring never grow the store past its cap, and pending, silent and newest stay") {
  SmallStore store;
  auto& s = store.s;
  const Time now = Clock::now();
  // Kept whatever the flood: a pending request and a deny whose silence
  // runs, both older than everything the flood writes.
  REQUIRE(s->save_request(request(1, RequestState::pending, now - 2h)));
  Request silent = request(2, RequestState::denied, now - 2h);
  silent.silent_until = now + 1h;
  REQUIRE(s->save_request(silent));
  Request spent = request(3, RequestState::denied, now - 2h);  // its silence is over: it may go
  spent.silent_until = now - 1h;
  REQUIRE(s->save_request(spent));
  uint64_t largest = 0;
  const uint64_t last = 4 + 5000;
  for (uint64_t id = 4; id < last; id += 100) {
    auto batch = s->transaction();
    for (uint64_t i = id; i < id + 100 && i < last; ++i) {
      // The sandbox's request expired: its row and its one audit row.
      const Time at = now - 1h + std::chrono::milliseconds(i);
      REQUIRE(s->save_request(request(i, RequestState::expired, at)));
      REQUIRE(s->audit(row(at, "expired", i)));
      largest = std::max(largest, s->counts().bytes);
    }
    REQUIRE(batch.commit());
  }
  CHECK(largest <= store.retention.max_bytes);
  CHECK(s->counts().file_bytes <= store.retention.max_bytes);
  const auto counts = s->counts();
  CHECK(counts.requests_pruned_for_size > 1000);
  CHECK(counts.pruned_for_size > 1000);
  const auto ids = request_ids(store.file);
  CHECK(ids.count(1));         // pending
  CHECK(ids.count(2));         // silent
  CHECK_FALSE(ids.count(3));   // silence over: gone with the oldest
  CHECK_FALSE(ids.count(4));   // the oldest expired ones went
  CHECK(ids.count(last - 1));  // the newest stay
  CHECK(*s->max_request_id() == last - 1);
  auto open = s->open_requests();
  REQUIRE(open);
  CHECK(open->size() == 2);
}

TEST_CASE("a store of requests alone still keeps its cap, and never gives an id twice") {
  SmallStore store;
  auto& s = store.s;
  const Time now = Clock::now();
  Grant ended;
  ended.id = 9;
  ended.subject = "acme/eng/a";
  ended.address = "198.51.100.20";
  ended.port = 80;
  ended.protocol = "tcp";
  ended.created_at = now - 3h;
  REQUIRE(s->save_grant(ended));
  REQUIRE(s->end_grant(9, "expired", now - 3h));
  // No audit rows at all (a store written by rows that went elsewhere):
  // the oldest finished requests are what goes.
  for (uint64_t id = 1; id <= 3000; id += 100) {
    auto batch = s->transaction();
    for (uint64_t i = id; i < id + 100; ++i) REQUIRE(s->save_request(request(i, RequestState::approved, now)));
    REQUIRE(s->keep_within_cap());
    REQUIRE(batch.commit());
    CHECK(s->counts().bytes <= store.retention.max_bytes);
  }
  CHECK(s->counts().requests_pruned_for_size > 0);
  CHECK(request_ids(store.file).count(3000));
  CHECK(*s->max_request_id() == 3000);
  CHECK(*s->max_grant_id() == 9);  // the largest grant id stays, ended or not
}

TEST_CASE("the age sweep removes at most a share of rows a call, and goes on at the next") {
  SmallStore store(256ULL << 20);
  auto& s = store.s;
  const Time now = Clock::now();
  const uint64_t old_rows = store::Store::kDeleteBatch * store::Store::kPruneBatchesPerCall + 500;
  {
    auto batch = s->transaction();
    for (uint64_t i = 0; i < old_rows; ++i) REQUIRE(s->audit(row(now - 48h, "expired", i)));
    REQUIRE(s->audit(row(now - 1h, "expired", 0)));
    REQUIRE(batch.commit());
  }
  auto first = s->prune(now);
  REQUIRE(first);
  CHECK(first->more);
  CHECK(first->removed == store::Store::kDeleteBatch * store::Store::kPruneBatchesPerCall);
  auto second = s->prune(now);
  REQUIRE(second);
  CHECK_FALSE(second->more);
  CHECK(second->removed == 500);
  CHECK(s->counts().audit_rows == 1);
}
