#include "agentd/store/store.hpp"

#include <limits>

#include <fmt/format.h>

#include "agentd/common/json_dump.hpp"
#include "agentd/store/schema.hpp"

namespace agentd::store {
using nlohmann::json;

int64_t epoch_ms(approvals::Time time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

namespace {

std::string tenant_of(const std::string& sandbox) { return sandbox.substr(0, sandbox.find('/')); }

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& file, Retention retention) {
  auto db = Database::open(file);
  if (!db) return db.error();
  // auto_vacuum must be chosen before the first table exists: it lets
  // pruning give space back without a full VACUUM.
  for (const char* pragma : {"PRAGMA auto_vacuum=INCREMENTAL", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                             "PRAGMA foreign_keys=ON"})
    if (auto st = db->exec(pragma); !st) return st.error();
  if (auto st = migrate(*db, file); !st) return st.error();
  std::unique_ptr<Store> store(new Store(std::move(*db), file, retention));
  if (auto st = store->prepare_statements(); !st) return st.error();
  if (auto st = store->size_pragmas(); !st) return st.error();
  // A store left over the cap (by an older agentd, or a smaller cap now),
  // all at once: nothing waits on the loop yet.
  if (auto st = store->keep_within_cap(std::numeric_limits<int>::max()); !st) return st.error();
  (void)store->db_.exec("PRAGMA incremental_vacuum");  // and the file shrinks to it
  return store;
}

Status Store::prepare_statements() {
  auto prepare = [&](Statement& into, const char* sql) -> Status {
    auto stmt = db_.prepare(sql);
    if (!stmt) return stmt.error();
    into = std::move(*stmt);
    return ok_status();
  };
  if (auto st =
          prepare(insert_audit_,
                  "INSERT INTO audit (time_ms, kind, decision, actor, tenant, sandbox, dest, host, port, protocol, "
                  "detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
      !st)
    return st;
  if (auto st =
          prepare(upsert_request_,
                  "INSERT INTO requests (id, sandbox, tenant, state, updated_ms, data) VALUES (?1, ?2, ?3, ?4, ?5, "
                  "?6) ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms, "
                  "data = excluded.data");
      !st)
    return st;
  if (auto st = prepare(upsert_grant_,
                        "INSERT INTO grants (id, tenant, data) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET "
                        "data = excluded.data");
      !st)
    return st;
  return prepare(end_grant_, "UPDATE grants SET ended_ms = ?2, ended_why = ?3 WHERE id = ?1 AND ended_ms IS NULL");
}

Status Store::audit(const AuditEvent& e) {
  if (++written_ % kCapCheckEvery == 0)
    if (auto st = keep_within_cap(); !st) return st;
  const std::string detail = dump_json(e.detail);
  unflushed_bytes_ += 64 + e.kind.size() + e.decision.size() + e.actor.size() + 2 * e.sandbox.size() + e.dest.size() +
                      e.host.size() + e.protocol.size() + detail.size();
  return insert_audit_.bind(1, epoch_ms(e.time))
      .bind(2, e.kind)
      .bind(3, e.decision)
      .bind(4, e.actor)
      .bind(5, tenant_of(e.sandbox))
      .bind(6, e.sandbox)
      .bind(7, e.dest)
      .bind(8, e.host)
      .bind(9, int64_t{e.port})
      .bind(10, e.protocol)
      .bind(11, detail)
      .run();
}

Status Store::save_request(const approvals::Request& r) {
  return upsert_request_.bind(1, static_cast<int64_t>(r.id))
      .bind(2, r.target.sandbox)
      .bind(3, tenant_of(r.target.sandbox))
      .bind(4, approvals::state_name(r.state))
      .bind(5, epoch_ms(r.answered_at.value_or(r.last_seen)))
      .bind(6, dump_json(approvals::request_to_json(r)))
      .run();
}

Status Store::save_grant(const approvals::Grant& g) {
  return upsert_grant_.bind(1, static_cast<int64_t>(g.id))
      .bind(2, g.tenant())
      .bind(3, dump_json(approvals::grant_to_json(g)))
      .run();
}

Status Store::end_grant(uint64_t grant_id, const std::string& why, approvals::Time when) {
  return end_grant_.bind(1, static_cast<int64_t>(grant_id)).bind(2, epoch_ms(when)).bind(3, why).run();
}

Result<std::vector<approvals::Request>> Store::open_requests() const {
  auto stmt = db_.prepare("SELECT data FROM requests WHERE state = 'pending' OR state = 'denied' ORDER BY id");
  if (!stmt) return stmt.error();
  std::vector<approvals::Request> requests;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    auto request = approvals::request_from_json(json::parse(stmt->text(0), nullptr, false));
    if (!request) return request.error();
    requests.push_back(std::move(*request));
  }
  return requests;
}

Result<std::vector<approvals::Grant>> Store::live_grants() const {
  auto stmt = db_.prepare("SELECT data FROM grants WHERE ended_ms IS NULL ORDER BY id");
  if (!stmt) return stmt.error();
  std::vector<approvals::Grant> grants;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    auto grant = approvals::grant_from_json(json::parse(stmt->text(0), nullptr, false));
    if (!grant) return grant.error();
    grants.push_back(std::move(*grant));
  }
  return grants;
}

Result<uint64_t> Store::max_request_id() const {
  auto id = db_.scalar("SELECT coalesce(max(id), 0) FROM requests");
  if (!id) return id.error();
  return static_cast<uint64_t>(*id);
}

Result<uint64_t> Store::max_grant_id() const {
  auto id = db_.scalar("SELECT coalesce(max(id), 0) FROM grants");
  if (!id) return id.error();
  return static_cast<uint64_t>(*id);
}

Result<json> Store::query_audit(const AuditQuery& q) const {
  std::string sql =
      "SELECT id, time_ms, kind, decision, actor, sandbox, dest, host, port, protocol, detail FROM audit WHERE 1=1";
  if (!q.agent_glob.empty()) sql += " AND sandbox GLOB ?1";
  if (q.since) sql += " AND time_ms >= ?2";
  if (!q.decision.empty()) sql += " AND decision = ?3";
  if (q.after_id) sql += " AND id > ?4";
  if (!q.all_tenants) {
    sql += " AND tenant IN (''";
    for (size_t i = 0; i < q.tenants.size(); ++i) sql += fmt::format(", ?{}", 10 + i);
    sql += ")";
  }
  // The newest `limit` rows (after a cursor: the oldest), shown oldest first.
  sql = fmt::format(
      "SELECT id, time_ms, kind, decision, actor, sandbox, dest, host, port, protocol, detail FROM ({} ORDER BY id {} "
      "LIMIT {}) ORDER BY id",
      sql, q.after_id ? "ASC" : "DESC", q.limit);
  auto stmt = db_.prepare(sql);
  if (!stmt) return stmt.error();
  if (!q.agent_glob.empty()) stmt->bind(1, q.agent_glob);
  if (q.since) stmt->bind(2, epoch_ms(*q.since));
  if (!q.decision.empty()) stmt->bind(3, q.decision);
  if (q.after_id) stmt->bind(4, static_cast<int64_t>(*q.after_id));
  if (!q.all_tenants)
    for (size_t i = 0; i < q.tenants.size(); ++i) stmt->bind(static_cast<int>(10 + i), q.tenants[i]);
  json rows = json::array();
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    const auto time = approvals::Time(std::chrono::milliseconds(stmt->integer(1)));
    auto detail = json::parse(stmt->text(10), nullptr, false);
    rows.push_back({{"id", stmt->integer(0)},
                    {"time", approvals::time_text(time)},
                    {"kind", stmt->text(2)},
                    {"decision", stmt->text(3)},
                    {"actor", stmt->text(4)},
                    {"sandbox", stmt->text(5)},
                    {"dest", stmt->text(6)},
                    {"host", stmt->text(7)},
                    {"port", stmt->integer(8)},
                    {"protocol", stmt->text(9)},
                    {"detail", detail.is_discarded() ? json::object() : detail}});
  }
  return rows;
}

uint64_t Store::used_bytes() const {
  auto pages = db_.scalar("PRAGMA page_count");
  auto free_pages = db_.scalar("PRAGMA freelist_count");
  auto page_size = db_.scalar("PRAGMA page_size");
  if (!pages || !free_pages || !page_size) return 0;
  return static_cast<uint64_t>((*pages - *free_pages) * *page_size);
}

StoreCounts Store::counts() const {
  StoreCounts c;
  auto rows = db_.scalar("SELECT count(*) FROM audit");
  c.audit_rows = rows ? static_cast<uint64_t>(*rows) : 0;
  c.bytes = used_bytes();
  c.written = written_;
  c.pruned = pruned_;
  c.file_bytes = file_bytes();
  c.pruned_for_size = pruned_for_size_;
  c.requests_pruned_for_size = requests_pruned_for_size_;
  c.grants_pruned_for_size = grants_pruned_for_size_;
  return c;
}

}  // namespace agentd::store
