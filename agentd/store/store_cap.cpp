// The store's size cap, held at every moment rather than by the hourly
// sweep alone: a storm of denials (4 M in 15 s once grew the store from
// 0.9 to 133 MB between two sweeps) writes in batches, and every few
// writes of a batch the store checks its size and, above a high-water mark
// under the cap, deletes its oldest audit rows down to a low-water mark in
// the same transaction. Freed pages are reused by the next inserts, so the
// database file never grows past the high-water mark. A transaction's
// pages reach the WAL when it commits: a batch that has written about a
// tenth of the cap is committed there and goes on in a new transaction,
// and a checkpoint folds the WAL into the database and truncates it.
// Database and WAL together stay under the cap. What may go for size, and
// in what order, is store_prune.cpp's: the oldest audit rows, and with them
// the finished requests and ended grants they reach back past; pending
// requests, running silences and live grants stay.
#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "agentd/store/store.hpp"

namespace agentd::store {
namespace {

// Room kept under the cap for the writes between two checks and for the
// page overhead of a delete: above high water we prune, down to low water.
constexpr double kHighWater = 0.70;
constexpr double kLowWater = 0.55;
constexpr uint64_t kWalShare = 10;  // the WAL may hold a tenth of the cap
// Pages a row dirties, against the row's own bytes: its table leaf, the
// time index, the sequence and header pages. Generous on purpose.
constexpr uint64_t kPageOverhead = 3;

uint64_t size_of(const std::filesystem::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

// The WAL is checkpointed once it holds a tenth of the cap and truncated
// back to that after: with the mid-batch commits of keep_within_cap(), the
// WAL file cannot carry the store past its cap either.
Status Store::size_pragmas() {
  auto page_size = db_.scalar("PRAGMA page_size");
  if (!page_size || *page_size <= 0) return make_error("reading the store's page size");
  const uint64_t wal_bytes = retention_.max_bytes / kWalShare;
  const uint64_t wal_pages = std::max<uint64_t>(wal_bytes / static_cast<uint64_t>(*page_size), 1);
  if (auto st = db_.exec(fmt::format("PRAGMA wal_autocheckpoint={}", wal_pages)); !st) return st;
  // Debian's SQLite zeroes every freed page (secure_delete), which writes
  // each page a size prune frees into the WAL; FAST clears deleted rows in
  // the pages written anyway, without that extra I/O.
  if (auto st = db_.exec("PRAGMA secure_delete=FAST"); !st) return st;
  // journal_size_limit answers with a row; scalar() steps it.
  if (auto limit = db_.scalar(fmt::format("PRAGMA journal_size_limit={}", wal_bytes)); !limit) return limit.error();
  return ok_status();
}

uint64_t Store::file_bytes() const { return size_of(file_) + size_of(file_.string() + "-wal"); }

Status Store::keep_within_cap(int max_rounds) {
  if (unflushed_bytes_ * kPageOverhead > retention_.max_bytes / kWalShare ||
      size_of(file_.string() + "-wal") > retention_.max_bytes / kWalShare)
    if (auto st = checkpoint(); !st) return st;
  const auto high = static_cast<uint64_t>(static_cast<double>(retention_.max_bytes) * kHighWater);
  const auto low = static_cast<uint64_t>(static_cast<double>(retention_.max_bytes) * kLowWater);
  if (used_bytes() <= high) return ok_status();
  // A few batches now; the next check, kCapCheckEvery writes later, goes
  // on toward low water if these did not reach it.
  if (auto st = shrink(low, max_rounds); !st) return st;
  // The freed pages stay in the database file for the next inserts; the
  // WAL that the delete wrote goes now.
  return checkpoint();
}

// A batch whose WAL has grown commits here and goes on in a new
// transaction (the caller's Transaction commits or rolls back that one):
// only committed frames can be checkpointed into the database, and the
// TRUNCATE checkpoint empties the WAL file.
Status Store::checkpoint() {
  unflushed_bytes_ = 0;
  const bool in_batch = !sqlite3_get_autocommit(db_.get());
  if (in_batch)
    if (auto st = db_.exec("COMMIT"); !st) return st;
  auto done = db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  if (in_batch)
    if (auto st = db_.exec("BEGIN IMMEDIATE"); !st) return st;
  return done;
}

}  // namespace agentd::store
