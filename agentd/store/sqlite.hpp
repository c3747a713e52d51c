// Small RAII owners for SQLite: the connection, prepared statements with
// typed binding, and transactions that roll back unless committed.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "agentd/common/result.hpp"

namespace agentd::store {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}

  // Binding is by position, 1-based, as SQLite counts.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, std::nullptr_t);
  Statement& bind(int index, const std::optional<int64_t>& value);
  // SQLITE_ROW: true; SQLITE_DONE: false; anything else: an error.
  Result<bool> step();
  // Steps to the end, then resets for the next use.
  Status run();
  void reset();

  int64_t integer(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
  std::string text(int column) const;
  bool is_null(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

 private:
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt_;
};

class Database {
 public:
  static Result<Database> open(const std::filesystem::path& path);
  Status exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  Result<int64_t> scalar(const std::string& sql);
  std::string last_error() const { return sqlite3_errmsg(db_.get()); }
  sqlite3* get() const { return db_.get(); }

 private:
  std::unique_ptr<sqlite3, SqliteCloser> db_;
};

class Transaction {
 public:
  explicit Transaction(Database& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_), open_(std::exchange(other.open_, false)) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  Database* db_;
  bool open_ = false;
};

}  // namespace agentd::store
