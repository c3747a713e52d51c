#include "agentd/store/schema.hpp"

#include <array>

#include <fmt/format.h>

namespace agentd::store {
namespace {

// Append only: a migration, once released, is never edited; a change is a
// new one. Index i takes a store from version i to i + 1.
constexpr std::array kMigrations = {
    // 1: approval requests, grants and the audit trail (the tables of every
    // agentd before versions; IF NOT EXISTS, so their stores take it as is).
    R"(
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY,
  sandbox TEXT NOT NULL,
  tenant TEXT NOT NULL,
  state TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  data TEXT NOT NULL
);
-- (state, updated_ms) serves open_requests() and the size prune's
-- finished requests older than a time; it replaces the index on state.
DROP INDEX IF EXISTS requests_state;
CREATE INDEX IF NOT EXISTS requests_state_updated ON requests(state, updated_ms);
CREATE TABLE IF NOT EXISTS grants (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  ended_ms INTEGER,
  ended_why TEXT,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  decision TEXT NOT NULL,
  actor TEXT NOT NULL,
  tenant TEXT NOT NULL,
  sandbox TEXT NOT NULL,
  dest TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit(time_ms);
)",
    // 2: what was kept in JSON files beside the store: the names behind
    // learned addresses (the addresses live in the kernel's map) and the
    // cgroups agentd adopted as sandboxes.
    R"(
CREATE TABLE learned_names (
  slot INTEGER NOT NULL,
  family INTEGER NOT NULL,
  address TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (slot, family, address)
) WITHOUT ROWID;
CREATE TABLE adopted_sandboxes (
  cgroup TEXT PRIMARY KEY,
  agent TEXT NOT NULL
) WITHOUT ROWID;
)",
};

}  // namespace

int schema_version() { return static_cast<int>(kMigrations.size()); }

Status migrate(Database& db, const std::filesystem::path& file) {
  auto current = db.scalar("PRAGMA user_version");
  if (!current) return make_error("reading the schema version of {}: {}", file.string(), current.error().describe());
  if (*current > schema_version())
    return make_error(
        "{} has schema version {}, newer than this agentd's {}: it was written by a newer agentd; "
        "run that one, or move the file aside to start an empty store",
        file.string(), *current, schema_version());
  for (auto version = *current; version < schema_version(); ++version) {
    Transaction tx(db);
    if (auto st = db.exec(kMigrations[static_cast<size_t>(version)]); !st)
      return make_error("migrating {} to schema version {}: {}", file.string(), version + 1, st.error().describe());
    if (auto st = db.exec(fmt::format("PRAGMA user_version = {}", version + 1)); !st)
      return make_error("migrating {} to schema version {}: {}", file.string(), version + 1, st.error().describe());
    if (auto st = tx.commit(); !st)
      return make_error("migrating {} to schema version {}: {}", file.string(), version + 1, st.error().describe());
  }
  return ok_status();
}

}  // namespace agentd::store
