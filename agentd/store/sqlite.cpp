#include "agentd/store/sqlite.hpp"

namespace agentd::store {

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<int64_t>& value) {
  return value ? bind(index, *value) : bind(index, nullptr);
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return make_error("sqlite: {}", sqlite3_errmsg(sqlite3_db_handle(stmt_.get())));
}

Status Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) {
      reset();
      return row.error();
    }
    if (!*row) break;
  }
  reset();
  return ok_status();
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_.get(), column);
  return data ? std::string(reinterpret_cast<const char*>(data),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column)))
              : std::string();
}

Result<Database> Database::open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db;
  db.db_.reset(raw);
  if (rc != SQLITE_OK)
    return make_error("opening the store {}: {}", path.string(), raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
  sqlite3_busy_timeout(raw, 2000);
  return db;
}

Status Database::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : last_error();
    sqlite3_free(message);
    return make_error("sqlite: {} (in: {:.80})", text, sql);
  }
  return ok_status();
}

Result<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
    return make_error("sqlite: {} (in: {:.80})", last_error(), sql);
  return Statement(stmt);
}

Result<int64_t> Database::scalar(const std::string& sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  return *row ? stmt->integer(0) : 0;
}

Transaction::Transaction(Database& db) : db_(&db) { open_ = static_cast<bool>(db_->exec("BEGIN IMMEDIATE")); }

Transaction::~Transaction() {
  if (open_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  if (!open_) return make_error("no transaction is open");
  open_ = false;
  return db_->exec("COMMIT");
}

}  // namespace agentd::store
