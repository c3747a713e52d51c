// The store's schema versions: a store of an agentd before versions is
// brought up to date with what it held; a newer store is refused, not
// opened; the daemon's own state (learned names, adopted cgroups) survives
// a reopen and is replaced whole.
#include <catch2/catch.hpp>

#include <filesystem>

#include "agentd/store/schema.hpp"
#include "agentd/store/sqlite.hpp"
#include "agentd/store/store.hpp"
#include "temp_dir.hpp"

using namespace agentd;
using agentd::testing::TempDir;

TEST_CASE("a store from before schema versions is migrated, and what it held is kept") {
  TempDir dir;
  const auto file = dir.path / "agentd.db";
  {
    // The tables as every agentd before versions made them; no user_version.
    auto db = store::Database::open(file);
    REQUIRE(db);
    REQUIRE(
        db->exec("CREATE TABLE grants (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, ended_ms INTEGER, "
                 "ended_why TEXT, data TEXT NOT NULL);"
                 "CREATE TABLE requests (id INTEGER PRIMARY KEY, sandbox TEXT NOT NULL, tenant TEXT NOT NULL, "
                 "state TEXT NOT NULL, updated_ms INTEGER NOT NULL, data TEXT NOT NULL);"
                 "CREATE INDEX requests_state ON requests(state);"
                 "INSERT INTO grants (id, tenant, data) VALUES (7, 'acme', '{}')"));
    REQUIRE(*db->scalar("PRAGMA user_version") == 0);
  }
  auto s = store::Store::open(file, {});
  REQUIRE(s);
  auto db = store::Database::open(file);
  REQUIRE(db);
  CHECK(*db->scalar("PRAGMA user_version") == store::schema_version());
  CHECK(*db->scalar("SELECT count(*) FROM grants WHERE id = 7") == 1);
  CHECK(*db->scalar("SELECT count(*) FROM sqlite_master WHERE name = 'requests_state'") == 0);
  CHECK(*db->scalar("SELECT count(*) FROM sqlite_master WHERE name = 'learned_names'") == 1);
  CHECK(s.value()->learned_names()->empty());
}

TEST_CASE("a store written by a newer agentd is refused, and left as it was") {
  TempDir dir;
  const auto file = dir.path / "agentd.db";
  {
    auto db = store::Database::open(file);
    REQUIRE(db);
    REQUIRE(db->exec("CREATE TABLE future (x); PRAGMA user_version = 99"));
  }
  auto s = store::Store::open(file, {});
  REQUIRE_FALSE(s);
  CHECK_THAT(s.error().describe(), Catch::Contains("schema version 99") && Catch::Contains("newer"));
  auto db = store::Database::open(file);
  REQUIRE(db);
  CHECK(*db->scalar("PRAGMA user_version") == 99);
  CHECK(*db->scalar("SELECT count(*) FROM sqlite_master WHERE name = 'grants'") == 0);
}

TEST_CASE("opening a current store again migrates nothing") {
  TempDir dir;
  const auto file = dir.path / "agentd.db";
  REQUIRE(store::Store::open(file, {}));
  auto again = store::Store::open(file, {});
  REQUIRE(again);
  CHECK(again.value()->adopted()->empty());
}

TEST_CASE("learned names and adopted cgroups survive a reopen and are replaced whole") {
  TempDir dir;
  const auto file = dir.path / "agentd.db";
  const std::vector<store::LearnedNameRow> names = {{3, 4, "198.51.100.10", "api.example.test"},
                                                    {3, 6, "2001:db8:1::10", "api.example.test"},
                                                    {9, 4, "203.0.113.7", "other.example.test"}};
  const std::vector<store::AdoptedRow> adopted = {{"acme/web/box", "/sys/fs/cgroup/machine.slice/box"}};
  {
    auto s = store::Store::open(file, {});
    REQUIRE(s);
    REQUIRE(s.value()->replace_learned_names(names));
    REQUIRE(s.value()->replace_adopted(adopted));
  }
  auto s = store::Store::open(file, {});
  REQUIRE(s);
  CHECK(*s.value()->learned_names() == names);
  CHECK(*s.value()->adopted() == adopted);

  REQUIRE(s.value()->replace_learned_names({names[2]}));
  REQUIRE(s.value()->replace_adopted({}));
  CHECK(*s.value()->learned_names() == std::vector<store::LearnedNameRow>{names[2]});
  CHECK(s.value()->adopted()->empty());
}
