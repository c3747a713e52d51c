// Caps on pending approval requests, and what happens past them. A
// sandbox that tries thousands of new destinations must not bury its
// operators (once: 158,225 pending requests in 15 s) nor grow agentd
// without bound: every kind of request (address, name, and any later
// kind) counts against a cap per sandbox and one per tenant, and past
// either cap a new destination folds into the sandbox's one fold entry,
// "N more destinations from this sandbox", which the operator can expand
// (agentctl approvals list --expand SANDBOX) to the first few it holds.
// Pure: no store, no kernel; the daemon keeps it beside the Book.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/approvals/book.hpp"

namespace agentd::approvals {

struct RequestCaps {
  size_t per_sandbox = 32;  // pending requests of one sandbox, every kind
  size_t per_tenant = 256;  // pending requests of all sandboxes of one tenant
};

// A destination the fold holds for the operator to see when expanding.
struct FoldedDestination {
  Target target;
  std::string host;
  uint64_t count = 0;  // denials of it while folded
  Time first_seen, last_seen;
};

struct Fold {
  std::string sandbox;
  uint64_t destinations = 0;  // distinct destinations folded (exact up to kTracked, then "at least")
  bool destinations_at_least = false;
  uint64_t denials = 0;  // every denial folded, repeats included
  Time first_seen, last_seen, expires_at;
  std::string why;                      // which cap: "32 pending requests of this sandbox"
  std::vector<FoldedDestination> kept;  // the first kKept, in order of arrival
  std::vector<uint64_t> seen;           // sorted hashes of folded targets, at most kTracked
  bool changed = false;                 // since operators were last told

  // "2041 more destinations from this sandbox"
  std::string summary() const;
};

class Folds {
 public:
  // Bounds on one fold's memory: a few kB whatever the flood.
  static constexpr size_t kKept = 16;
  static constexpr size_t kTracked = 512;

  // Past which cap, if any, a denial of a new destination is: "" when the
  // sandbox and its tenant are both below theirs.
  static std::string over_cap(const Book::PendingCounts& pending, const RequestCaps& caps);
  // Folds one denial into its sandbox's fold (made on first use); the fold
  // lasts `expiry` past its latest denial. Returns the fold.
  const Fold& add(const Denial& denial, const std::string& why, std::chrono::seconds expiry);
  // Folds whose time is up leave; they are returned.
  std::vector<Fold> expire(Time now);
  const Fold* find(const std::string& sandbox) const;
  // Folds changed since the last call, marked as told.
  std::vector<const Fold*> take_changed();
  const std::map<std::string, Fold>& all() const { return folds_; }

 private:
  std::map<std::string, Fold> folds_;  // sandbox -> its fold: at most one each
};

// As the control API shows it; `expand` adds the destinations it holds.
nlohmann::json fold_to_json(const Fold& fold, bool expand);

}  // namespace agentd::approvals
