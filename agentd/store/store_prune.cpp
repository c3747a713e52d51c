// Which rows may leave the store, and how: by age (the hourly sweep) and
// for size (the cap, store_cap.cpp). Every DELETE removes at most
// kDeleteBatch rows, so no one statement holds the event loop long.
//
// For size, the audit trail goes oldest first, and with it the finished
// requests (answered, expired, denied) and ended grants no younger than
// the newest audit row removed: their decisions were audited when made,
// and the trail no longer reaches back to them. A sandbox whose requests
// keep expiring thus cannot grow the store past its cap. Never removed
// for size: pending requests, denied ones whose silence still runs (a
// restart restores the silence from them), live grants, and the request
// and grant with the largest id (ids must never be given twice: the
// store's max(id) is where a restarted agentd goes on counting).
#include <algorithm>
#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "agentd/store/store.hpp"

namespace agentd::store {
namespace {

// A finished request whose row may go: not pending, not a deny whose
// silence runs past `now` (as RFC 3339 text: time_text is fixed-width UTC,
// so text order is time order), not the largest id.
std::string finished_requests(const std::string& now_text) {
  return fmt::format(
      "state IN ('approved', 'expired', 'denied') AND NOT (state = 'denied' AND "
      "coalesce(json_extract(data, '$.silent_until'), '') > '{}') AND id < (SELECT max(id) FROM requests)",
      now_text);
}

constexpr const char* kEndedGrants = "ended_ms IS NOT NULL AND id < (SELECT max(id) FROM grants)";

}  // namespace

Result<uint64_t> Store::delete_rows(const std::string& sql) {
  if (auto st = db_.exec(sql); !st) return st.error();
  return static_cast<uint64_t>(sqlite3_changes(db_.get()));
}

Result<Pruned> Store::prune(approvals::Time now) {
  const int64_t cutoff = epoch_ms(now - retention_.max_age);
  const std::string now_text = approvals::time_text(now);
  Pruned pruned;
  int batches = 0;
  // Each table in turn, one batch at a time, until nothing old is left or
  // this call's share is spent.
  for (const std::string& sql :
       {fmt::format("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE time_ms < {} ORDER BY id LIMIT {})",
                    cutoff, kDeleteBatch),
        fmt::format("DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE {} AND updated_ms < {} LIMIT {})",
                    finished_requests(now_text), cutoff, kDeleteBatch),
        fmt::format("DELETE FROM grants WHERE id IN (SELECT id FROM grants WHERE {} AND ended_ms < {} LIMIT {})",
                    kEndedGrants, cutoff, kDeleteBatch)}) {
    for (;;) {
      if (batches++ == kPruneBatchesPerCall) {
        pruned.more = true;
        break;
      }
      auto removed = delete_rows(sql);
      if (!removed) return removed.error();
      pruned.removed += *removed;
      if (*removed < static_cast<uint64_t>(kDeleteBatch)) break;
    }
    if (pruned.more) break;
  }
  pruned_ += pruned.removed;
  if (auto st = keep_within_cap(); !st) return st.error();
  if (pruned.removed) {
    (void)db_.exec("PRAGMA incremental_vacuum");
    (void)db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return pruned;
}

Status Store::shrink(uint64_t target, int max_rounds) {
  const std::string now_text = approvals::time_text(approvals::Clock::now());
  uint64_t used = used_bytes();
  for (int round = 0; round < max_rounds && used > target; ++round) {
    // Audit ids only grow and only the oldest go, so max - min + 1 counts
    // the rows without the full scan of count(*).
    auto rows = db_.scalar("SELECT coalesce(max(id) - min(id) + 1, 0) FROM audit");
    if (!rows) return rows.error();
    uint64_t removed_here = 0;
    // Requests and grants no younger than the trail's removed rows; with
    // the trail empty, only they are left, and the oldest go.
    std::optional<int64_t> upto;
    if (*rows > 0) {
      // The share of the rows that holds the excess, plus one: rows are of
      // similar size, so a round or two usually do; never past a batch.
      const auto excess = static_cast<double>(used - target) / static_cast<double>(used);
      const int64_t batch =
          std::clamp<int64_t>(static_cast<int64_t>(static_cast<double>(*rows) * excess) + 1, 1, kDeleteBatch);
      // The batch's newest row; fewer rows than the batch: the newest of all.
      int64_t last_id = 0, last_time = 0;
      for (const std::string& sql :
           {fmt::format("SELECT id, time_ms FROM audit ORDER BY id LIMIT 1 OFFSET {}", batch - 1),
            std::string("SELECT id, time_ms FROM audit ORDER BY id DESC LIMIT 1")}) {
        auto last = db_.prepare(sql);
        if (!last) return last.error();
        auto found = last->step();
        if (!found) return found.error();
        if (!*found) continue;
        last_id = last->integer(0);
        last_time = last->integer(1);
        break;
      }
      auto removed = delete_rows(fmt::format("DELETE FROM audit WHERE id <= {}", last_id));
      if (!removed) return removed.error();
      pruned_for_size_ += *removed;
      pruned_ += *removed;
      removed_here += *removed;
      upto = last_time;
    }
    auto older = [&](const char* column) { return upto ? fmt::format(" AND {} <= {}", column, *upto) : std::string(); };
    auto requests = delete_rows(fmt::format(
        "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE {}{} ORDER BY updated_ms LIMIT {})",
        finished_requests(now_text), older("updated_ms"), kDeleteBatch));
    if (!requests) return requests.error();
    requests_pruned_for_size_ += *requests;
    pruned_ += *requests;
    removed_here += *requests;
    auto grants = delete_rows(
        fmt::format("DELETE FROM grants WHERE id IN (SELECT id FROM grants WHERE {}{} ORDER BY ended_ms LIMIT {})",
                    kEndedGrants, older("ended_ms"), kDeleteBatch));
    if (!grants) return grants.error();
    grants_pruned_for_size_ += *grants;
    pruned_ += *grants;
    removed_here += *grants;
    if (removed_here == 0) break;  // nothing left that may go for size
    used = used_bytes();
  }
  return ok_status();
}

}  // namespace agentd::store
