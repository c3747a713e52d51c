// agentd's persistent state in SQLite (WAL mode) under the state dir:
// approval requests, grants (live and past) and the audit trail, with a
// retention policy by age and size. The source of truth for grants: on
// start the daemon rewrites the live ones into the kernel and drops the
// expired. Used from the event loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/approvals/book.hpp"
#include "agentd/store/sqlite.hpp"

namespace agentd::store {

struct Retention {
  std::chrono::seconds max_age{30 * 86400};
  uint64_t max_bytes = 256ULL << 20;
};

// One line of the audit trail.
struct AuditEvent {
  approvals::Time time;
  std::string kind;      // denial | request | decision | grant | expiry | revoke | policy | sandbox
  std::string decision;  // deny | approved | denied | allow | expired | revoked | loaded | refused
                         // | created | adopted | retired
  std::string actor;     // who: "kernel", "dns", "agentd", "alice (uid 1001)"
  std::string sandbox;   // tenant/team/agent, or a grant's subject; empty for policy loads
  std::string dest;      // address
  std::string host;      // name, when known
  uint16_t port = 0;
  std::string protocol;
  nlohmann::json detail = nlohmann::json::object();
};

struct AuditQuery {
  std::string agent_glob;  // shell glob over tenant/team/agent; empty: all
  std::optional<approvals::Time> since;
  std::string decision;              // empty: all
  std::vector<std::string> tenants;  // empty: all (the caller's role decides)
  bool all_tenants = true;
  size_t limit = 1000;
  // A follower's cursor: only rows after this id, the oldest `limit` of
  // them (not the newest: a follower must not skip any).
  std::optional<uint64_t> after_id;
};

struct StoreCounts {
  uint64_t audit_rows = 0, bytes = 0, written = 0, pruned = 0;
  uint64_t file_bytes = 0;       // the database file and its WAL, as the disk sees them
  uint64_t pruned_for_size = 0;  // oldest audit rows removed to stay under max_bytes
  // Finished requests and ended grants removed to stay under max_bytes
  // (store_prune.cpp says which may go).
  uint64_t requests_pruned_for_size = 0, grants_pruned_for_size = 0;
};

// What one call of Store::prune() removed; `more` when it stopped at its
// share of work and the rest waits for the next call.
struct Pruned {
  uint64_t removed = 0;
  bool more = false;
};

// The name behind an address DNS taught a sandbox (the address itself is
// kept by the kernel's map across restarts; its name only here).
struct LearnedNameRow {
  uint32_t slot = 0;
  uint32_t family = 0;  // AGENTD_FAMILY_IPV4 (4) or AGENTD_FAMILY_IPV6 (6)
  std::string address;  // as text
  std::string name;
  bool operator==(const LearnedNameRow&) const = default;
};

// A cgroup outside the sandbox root that agentd adopted as a sandbox.
struct AdoptedRow {
  std::string agent;   // tenant/team/agent
  std::string cgroup;  // its path
  bool operator==(const AdoptedRow&) const = default;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& file, Retention retention);

  Status audit(const AuditEvent& event);
  Status save_request(const approvals::Request& request);
  Status save_grant(const approvals::Grant& grant);
  // A grant that expired or was revoked: kept for the record, no longer live.
  Status end_grant(uint64_t grant_id, const std::string& why, approvals::Time when);

  Result<std::vector<approvals::Request>> open_requests() const;  // pending, and denied ones still silent
  Result<std::vector<approvals::Grant>> live_grants() const;
  Result<uint64_t> max_request_id() const;
  Result<uint64_t> max_grant_id() const;
  Result<nlohmann::json> query_audit(const AuditQuery& query) const;

  // Deletes what is older than the retention age, then keeps the size
  // cap (store_prune.cpp). At most kPruneBatchesPerCall DELETEs of
  // kDeleteBatch rows a call, so the event loop is never held long:
  // with `more`, the caller calls again on its next turn.
  Result<Pruned> prune(approvals::Time now);
  // The size cap at every moment (store_cap.cpp): every kCapCheckEvery
  // audit writes, and after each batch, a store above its high-water mark
  // loses its oldest rows that may go (store_prune.cpp) toward the
  // low-water mark, inside the writer's own transaction, so a burst never
  // grows it past max_bytes. `max_rounds` DELETEs at most a call: each
  // frees far more than the kCapCheckEvery rows written until the next.
  Status keep_within_cap(int max_rounds = kRoundsPerCheck);
  static constexpr uint64_t kCapCheckEvery = 16;
  static constexpr int64_t kDeleteBatch = 2048;  // rows a DELETE statement removes at most
  static constexpr int kRoundsPerCheck = 4;
  static constexpr int kPruneBatchesPerCall = 8;

  // The daemon's own state (store_state.cpp): each list replaced whole, in
  // one transaction, so a crash keeps the old list or the new.
  Status replace_learned_names(const std::vector<LearnedNameRow>& rows);
  Result<std::vector<LearnedNameRow>> learned_names() const;
  Status replace_adopted(const std::vector<AdoptedRow>& rows);
  Result<std::vector<AdoptedRow>> adopted() const;

  // Many writes in one transaction (a drain of denial records).
  Transaction transaction() { return Transaction(db_); }
  StoreCounts counts() const;
  const std::filesystem::path& file() const { return file_; }
  const Retention& retention() const { return retention_; }

 private:
  Store(Database db, std::filesystem::path file, Retention retention)
      : db_(std::move(db)), file_(std::move(file)), retention_(retention) {}
  Status prepare_statements();
  Status size_pragmas();
  Status checkpoint();
  uint64_t used_bytes() const;
  uint64_t file_bytes() const;
  // store_prune.cpp: one bounded DELETE, returning the rows it removed.
  Result<uint64_t> delete_rows(const std::string& sql);
  // Removes the oldest rows that may go for size, one batch a round,
  // until the store uses `target` bytes or less.
  Status shrink(uint64_t target, int max_rounds);

  mutable Database db_;
  std::filesystem::path file_;
  Retention retention_;
  Statement insert_audit_, upsert_request_, upsert_grant_, end_grant_;
  uint64_t written_ = 0, pruned_ = 0, pruned_for_size_ = 0;
  uint64_t requests_pruned_for_size_ = 0, grants_pruned_for_size_ = 0;
  uint64_t unflushed_bytes_ = 0;  // row bytes written since the last checkpoint (store_cap.cpp)
};

int64_t epoch_ms(approvals::Time time);

}  // namespace agentd::store
