// The SQLite store: requests, grants and the audit trail survive a reopen;
// queries filter; retention removes by age and by size.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include "agentd/store/store.hpp"
#include "temp_dir.hpp"

using namespace agentd;
using namespace agentd::approvals;
using namespace std::chrono_literals;
using agentd::testing::TempDir;

namespace {

store::AuditEvent event(Time at, const std::string& sandbox, const std::string& decision) {
  store::AuditEvent e;
  e.time = at;
  e.kind = decision == "deny" ? "denial" : "decision";
  e.decision = decision;
  e.actor = "kernel";
  e.sandbox = sandbox;
  e.dest = "198.51.100.20";
  e.port = 80;
  e.protocol = "tcp";
  return e;
}

}  // namespace

TEST_CASE("the store keeps requests and live grants across a reopen, in WAL mode") {
  TempDir dir;
  const auto file = dir.path / "agentd.db";
  const Time now = Clock::now();
  {
    auto s = store::Store::open(file, {});
    REQUIRE(s);
    Request r;
    r.id = 4;
    r.target = {"acme/eng/a", "198.51.100.20", 80, "tcp"};
    r.first_seen = r.last_seen = now;
    r.expires_at = now + 15min;
    REQUIRE((*s)->save_request(r));
    Grant live, ended;
    live.id = 2;
    live.subject = "acme/eng";
    live.scope = Scope::team;
    live.address = "198.51.100.20";
    live.port = 80;
    live.protocol = "tcp";
    live.created_at = now;
    live.created_by = "root (uid 0)";
    ended = live;
    ended.id = 3;
    REQUIRE((*s)->save_grant(live));
    REQUIRE((*s)->save_grant(ended));
    REQUIRE((*s)->end_grant(3, "revoked", now));
  }
  auto s = store::Store::open(file, {});
  REQUIRE(s);
  auto db = store::Database::open(file);
  REQUIRE(db);
  auto mode = db->prepare("PRAGMA journal_mode");
  REQUIRE(mode);
  REQUIRE(*mode->step());
  CHECK(mode->text(0) == "wal");
  auto requests = (*s)->open_requests();
  REQUIRE(requests);
  REQUIRE(requests->size() == 1);
  CHECK((*requests)[0].target.sandbox == "acme/eng/a");
  auto grants = (*s)->live_grants();
  REQUIRE(grants);
  REQUIRE(grants->size() == 1);
  CHECK((*grants)[0].id == 2);
  CHECK(*(*s)->max_grant_id() == 3);
  CHECK(*(*s)->max_request_id() == 4);
}

TEST_CASE("audit queries filter by agent glob, time, decision and tenant") {
  TempDir dir;
  auto s = store::Store::open(dir.path / "agentd.db", {});
  REQUIRE(s);
  const Time now = Clock::now();
  {
    auto batch = (*s)->transaction();
    REQUIRE((*s)->audit(event(now - 2h, "acme/eng/a", "deny")));
    REQUIRE((*s)->audit(event(now - 1min, "acme/ops/b", "deny")));
    REQUIRE((*s)->audit(event(now, "acme/eng/a", "approved")));
    REQUIRE((*s)->audit(event(now, "globex/x/y", "deny")));
    REQUIRE(batch.commit());
  }
  store::AuditQuery q;
  CHECK((*s)->query_audit(q)->size() == 4);
  q.agent_glob = "acme/eng/*";
  CHECK((*s)->query_audit(q)->size() == 2);
  q.since = now - 1h;
  CHECK((*s)->query_audit(q)->size() == 1);
  q = {};
  q.decision = "deny";
  CHECK((*s)->query_audit(q)->size() == 3);
  q = {};
  q.all_tenants = false;
  q.tenants = {"globex"};
  auto rows = (*s)->query_audit(q);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0]["sandbox"] == "globex/x/y");
  q = {};
  q.limit = 2;
  rows = (*s)->query_audit(q);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[1]["sandbox"] == "globex/x/y");  // the newest, oldest first
  // A follower's cursor: what came after a row, oldest first, none skipped.
  q = {};
  rows = (*s)->query_audit(q);
  REQUIRE(rows->size() == 4);
  q.after_id = (*rows)[0]["id"].get<uint64_t>();
  q.limit = 2;
  auto after = (*s)->query_audit(q);
  REQUIRE(after->size() == 2);
  CHECK((*after)[0]["id"] == (*rows)[1]["id"]);
  CHECK((*after)[1]["id"] == (*rows)[2]["id"]);
  q.after_id = (*rows)[3]["id"].get<uint64_t>();
  CHECK((*s)->query_audit(q)->empty());
}

TEST_CASE("retention removes what is older than the age") {
  TempDir dir;
  store::Retention retention{24h, uint64_t{256} * 1024};
  auto s = store::Store::open(dir.path / "agentd.db", retention);
  REQUIRE(s);
  const Time now = Clock::now();
  REQUIRE((*s)->audit(event(now - 48h, "acme/eng/old", "deny")));
  REQUIRE((*s)->audit(event(now - 1h, "acme/eng/a", "deny")));
  auto removed = (*s)->prune(now);
  REQUIRE(removed);
  CHECK(removed->removed == 1);
  CHECK_FALSE(removed->more);
  store::AuditQuery q;
  q.agent_glob = "acme/eng/old";
  CHECK((*s)->query_audit(q)->empty());
  q.agent_glob = "acme/eng/a";
  CHECK((*s)->query_audit(q)->size() == 1);
}

TEST_CASE("a burst never grows the store past its cap, and the oldest audit events go first") {
  TempDir dir;
  const auto file = dir.path / "agentd.db";
  store::Retention retention{24h, uint64_t{256} * 1024};
  auto s = store::Store::open(file, retention);
  REQUIRE(s);
  Request pending;  // pending requests are never removed for size
  pending.id = 7;
  pending.target = {"acme/eng/a", "198.51.100.20", 80, "tcp"};
  REQUIRE((*s)->save_request(pending));
  const Time now = Clock::now();
  uint64_t largest = 0, largest_file = 0;
  for (int b = 0; b < 10; ++b) {
    auto batch = (*s)->transaction();
    for (int i = b * 1000; i < (b + 1) * 1000; ++i) {
      auto e = event(now - std::chrono::seconds(10000 - i), "acme/eng/a", "deny");
      e.detail = {{"padding", std::string(100, 'x')}, {"i", i}};
      REQUIRE((*s)->audit(e));
      const auto counts = (*s)->counts();  // at every moment, mid-transaction too
      largest = std::max(largest, counts.bytes);
      largest_file = std::max(largest_file, counts.file_bytes);
    }
    REQUIRE(batch.commit());
  }
  // 10,000 rows of ~200 bytes would be ~2 MB: eight times the cap.
  CHECK(largest <= retention.max_bytes);
  CHECK((*s)->counts().pruned_for_size > 5000);
  // The database file and its WAL together, as the disk sees them.
  CHECK(largest_file <= retention.max_bytes);
  store::AuditQuery q;
  q.agent_glob = "acme/eng/a";
  q.limit = 100000;
  auto rows = (*s)->query_audit(q);
  REQUIRE_FALSE(rows->empty());
  CHECK(rows->back()["detail"]["i"] == 9999);  // the newest stay
  CHECK(rows->front()["detail"]["i"] > 0);     // the oldest went
  auto open = (*s)->open_requests();
  REQUIRE(open);
  CHECK(open->size() == 1);
}

TEST_CASE("a store found over a smaller cap shrinks to it when opened") {
  TempDir dir;
  const auto file = dir.path / "agentd.db";
  {
    auto s = store::Store::open(file, {24h, 4 << 20});
    REQUIRE(s);
    auto batch = (*s)->transaction();
    for (int i = 0; i < 5000; ++i) {
      auto e = event(Clock::now(), "acme/eng/a", "deny");
      e.detail = {{"padding", std::string(100, 'x')}, {"i", i}};
      REQUIRE((*s)->audit(e));
    }
    REQUIRE(batch.commit());
    CHECK((*s)->counts().bytes > uint64_t{256} * 1024);
  }
  auto s = store::Store::open(file, {24h, uint64_t{256} * 1024});
  REQUIRE(s);
  CHECK((*s)->counts().bytes <= uint64_t{256} * 1024);
}
