#include "agentd/approvals/folds.hpp"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

namespace agentd::approvals {
namespace {

uint64_t hash_of(const Target& t) {
  // Collisions only make the count a little low, never the memory larger.
  const std::hash<std::string> h;
  return h(t.address) ^ (h(t.name) << 1) ^ (h(t.protocol) << 2) ^ (uint64_t{t.port} << 48);
}

}  // namespace

std::string Fold::summary() const {
  return fmt::format("{}{} more destination{} from this sandbox", destinations_at_least ? "at least " : "",
                     destinations, destinations == 1 ? "" : "s");
}

std::string Folds::over_cap(const Book::PendingCounts& pending, const RequestCaps& caps) {
  if (pending.sandbox >= caps.per_sandbox) return fmt::format("{} pending requests of this sandbox", caps.per_sandbox);
  if (pending.tenant >= caps.per_tenant) return fmt::format("{} pending requests of its tenant", caps.per_tenant);
  return "";
}

const Fold& Folds::add(const Denial& denial, const std::string& why, std::chrono::seconds expiry) {
  auto [it, made] = folds_.try_emplace(denial.target.sandbox);
  Fold& fold = it->second;
  if (made) {
    fold.sandbox = denial.target.sandbox;
    fold.first_seen = denial.time;
  }
  fold.why = why;
  fold.denials += denial.count;
  fold.last_seen = std::max(fold.last_seen, denial.time);
  fold.expires_at = fold.last_seen + expiry;
  fold.changed = true;

  auto kept = std::find_if(fold.kept.begin(), fold.kept.end(),
                           [&](const FoldedDestination& d) { return d.target == denial.target; });
  if (kept != fold.kept.end()) {
    kept->count += denial.count;
    kept->last_seen = denial.time;
    return fold;
  }
  const uint64_t h = hash_of(denial.target);
  auto pos = std::lower_bound(fold.seen.begin(), fold.seen.end(), h);
  const bool known = pos != fold.seen.end() && *pos == h;
  if (!known) {
    if (fold.seen.size() < kTracked) {
      fold.seen.insert(pos, h);
      ++fold.destinations;
    } else if (!fold.destinations_at_least) {
      // Past what it tracks, the fold no longer tells a new destination
      // from a repeat: the count becomes a lower bound.
      fold.destinations_at_least = true;
    }
  }
  if (!known && fold.kept.size() < kKept)
    fold.kept.push_back({denial.target, denial.host, denial.count, denial.time, denial.time});
  return fold;
}

std::vector<Fold> Folds::expire(Time now) {
  std::vector<Fold> gone;
  for (auto it = folds_.begin(); it != folds_.end();) {
    if (it->second.expires_at <= now) {
      gone.push_back(std::move(it->second));
      it = folds_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

const Fold* Folds::find(const std::string& sandbox) const {
  auto it = folds_.find(sandbox);
  return it == folds_.end() ? nullptr : &it->second;
}

std::vector<const Fold*> Folds::take_changed() {
  std::vector<const Fold*> changed;
  for (auto& [sandbox, fold] : folds_) {
    if (!fold.changed) continue;
    fold.changed = false;
    changed.push_back(&fold);
  }
  return changed;
}

nlohmann::json fold_to_json(const Fold& fold, bool expand) {
  nlohmann::json j = {{"sandbox", fold.sandbox},
                      {"summary", fold.summary()},
                      {"destinations", fold.destinations},
                      {"destinations_at_least", fold.destinations_at_least},
                      {"denials", fold.denials},
                      {"why", fold.why},
                      {"first_seen", time_text(fold.first_seen)},
                      {"last_seen", time_text(fold.last_seen)},
                      {"expires_at", time_text(fold.expires_at)}};
  if (expand) {
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& d : fold.kept) {
      // The fields of a request (request_to_json), so clients show both alike.
      const std::string host = d.target.is_name() ? d.target.name : d.host;
      nlohmann::json item = {{"dest", d.target.address},
                             {"port", d.target.port},
                             {"protocol", d.target.protocol},
                             {"direction", d.target.inbound ? "inbound" : "outbound"},
                             {"host", host.empty() ? nlohmann::json(nullptr) : nlohmann::json(host)},
                             {"count", d.count},
                             {"first_seen", time_text(d.first_seen)},
                             {"last_seen", time_text(d.last_seen)}};
      kept.push_back(std::move(item));
    }
    j["kept"] = std::move(kept);
    j["kept_max"] = Folds::kKept;
  }
  return j;
}

}  // namespace agentd::approvals
