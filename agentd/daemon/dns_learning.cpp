#include "agentd/daemon/dns_learning.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include <spdlog/spdlog.h>

#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/events/record_time.hpp"
#include "agentd/dns/reverse_name.hpp"
#include "agentd/policy/names.hpp"
#include "verdict.h"

namespace agentd::daemon {

constexpr uint16_t kTypePtr = 12;  // RFC 1035
namespace {

using nlohmann::json;

// Expired entries stay this long, so a denial can say "expired" rather
// than "no rule", and then leave.
constexpr uint64_t kExpiredGraceNs = 600ULL * 1'000'000'000;
constexpr auto kHostAddressesMaxAge = std::chrono::seconds(5);
// At most a day, whatever a zone says (RFC 2181 allows 68 years): an
// address stays open no longer than this without being asked for again.
constexpr uint32_t kMaxTtlSeconds = 86400;
// DNS denial records a sandbox may cause per second (the kernel allows 5 a
// second per destination; refused names have no destination to key on).
constexpr uint32_t kDnsRecordsPerSecond = 20;

bool same_range(const agentd_port_range& a, const agentd_port_range& b) {
  return a.lo == b.lo && a.hi == b.hi && a.proto_mask == b.proto_mask && a.action == b.action;
}

void merge_ranges(std::vector<agentd_port_range>& into, const std::vector<agentd_port_range>& more) {
  for (const auto& r : more)
    if (std::none_of(into.begin(), into.end(), [&](const auto& x) { return same_range(x, r); }) &&
        into.size() < AGENTD_MAX_PORT_RANGES)
      into.push_back(r);
}

std::string address_text(uint32_t family, const std::array<uint8_t, 16>& addr) {
  policy::Cidr cidr;
  cidr.family = family;
  cidr.addr = addr;
  cidr.prefix = cidr.max_prefix();
  std::string text = cidr.str();
  return text.substr(0, text.find('/'));
}

}  // namespace

uint64_t monotonic_now_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(now.tv_nsec);
}

DnsLearning::DnsLearning(const DnsSettings& settings, dns::ProtectedRanges protected_ranges, bpf::KernelMaps& maps,
                         const PolicyApplier& applier, const SandboxRegistry& registry, DenialSink denials)
    : settings_(settings),
      protected_(std::move(protected_ranges)),
      maps_(maps),
      applier_(applier),
      registry_(registry),
      denials_(std::move(denials)),
      quota_(settings.learned_quota, AGENTD_MAX_LEARNED) {}

void DnsLearning::record_denial(uint32_t slot, const dns::Query& query, events::DenialReason reason,
                                const std::string& why, const std::string& transport) {
  // As the kernel does for connections: a sandbox that floods refused
  // names gets a bounded number of records a second; the rest are counted
  // and reported in its next record (never silent). Every query is still
  // refused.
  RecordBudget& budget = record_budget_[slot];
  const auto now = std::chrono::steady_clock::now();
  if (now - budget.window_start >= std::chrono::seconds(1)) {
    budget.window_start = now;
    budget.used = 0;
  }
  if (budget.used >= kDnsRecordsPerSecond) {
    ++budget.held;
    ++records_held_;
    return;
  }
  ++budget.used;
  const Sandbox* sandbox = registry_.find_slot(slot);
  events::Denial denial;
  denial.hook = events::DenialHook::dns;
  denial.reason = reason;
  denial.time = events::record_time(events::RecordClock::now());
  if (sandbox) denial.sandbox = sandbox->agent.str();
  denial.name = safe_text(query.name);  // ldns escapes odd bytes; this keeps JSON whole regardless
  denial.query = events::DenialQuery{dns::type_name(query.qtype), transport};
  denial.rule = safe_text(why);
  denial.suppressed_before = std::exchange(budget.held, 0);
  denials_(std::move(denial));
}

void DnsLearning::set_upstream(const std::string& upstream, const std::string& why_none) {
  settings_.upstream = upstream;
  no_upstream_why_ = why_none;
}

policy::NameDecision DnsLearning::decide(const Sandbox& sandbox, const policy::PolicySet& policy,
                                         std::string_view name) {
  if (rules_policy_ != &policy) {
    host_rules_.clear();  // a reload: every index points into the old policy
    rules_policy_ = &policy;
  }
  auto it = host_rules_.find(sandbox.slot);
  if (it == host_rules_.end()) it = host_rules_.emplace(sandbox.slot, policy::HostRules(policy, sandbox.agent)).first;
  auto decision = it->second.decide(name);
  // What no rule decided an operator may have granted; never over a deny.
  if (!decision.allowed && !decision.endpoint && !decision.failed_closed && name_grants_) {
    if (auto granted = name_grants_(sandbox.agent, name)) {
      decision.allowed = true;
      // Verified like a host rule's: the grant opens the name, not its
      // address, on the ports it names (any protocol), or on every port.
      decision.ranges.clear();
      // Past what one kernel value holds (many grants of one name), the
      // ports beyond are left closed rather than widened.
      for (const auto& p : granted->ports)
        if (decision.ranges.size() < AGENTD_MAX_PORT_RANGES)
          decision.ranges.push_back({p.lo, p.hi, AGENTD_PROTO_ANY, AGENTD_ACTION_ALLOW, AGENTD_VERIFY_NAME, 0});
      if (granted->ports.empty())
        decision.ranges = {agentd_port_range{1, 65535, AGENTD_PROTO_ANY, AGENTD_ACTION_ALLOW, AGENTD_VERIFY_NAME, 0}};
      decision.explanation = granted->explanation;
      decision.granted_until_ns = granted->until_ns;
    }
  }
  return decision;
}

std::optional<dns::Bytes> DnsLearning::judge(uint32_t slot, const dns::Query& query, const std::string& transport) {
  const Sandbox* sandbox = registry_.find_slot(slot);
  const auto* policy = applier_.policy();
  if (!sandbox || !policy) {
    // No sandbox: nothing to count it against (a slot that is not one's).
    record_denial(slot, query, events::DenialReason::unknown_cgroup, "no sandbox holds this slot", transport);
    return dns::refusal(query, settings_.refusal, dns::kEdeProhibited, "agentd: not a known sandbox");
  }
  // The proxy forwards a rebuilt query of the usual shape only (see
  // dns::upstream_query); other classes and types are refused here, where
  // refusals are recorded, before any name rule.
  auto& counted = slot_queries_[slot];
  if (const std::string why = dns::not_forwarded(query); !why.empty()) {
    ++names_refused_;
    ++counted.refused;
    record_denial(slot, query, events::DenialReason::query_type, why, transport);
    return dns::refusal(query, dns::Refusal::refused, dns::kEdeNotSupported,
                        fmt::format("agentd: {}; agentd forwards A, AAAA, CNAME, HTTPS, SVCB, MX, TXT, SRV, PTR, "
                                    "NS, SOA and CAA queries of class IN",
                                    why));
  }
  auto decision = decide(*sandbox, *policy, query.name);
  if (decision.allowed && settings_.upstream.empty()) {
    // Started on a host whose resolv.conf names no nameserver: every
    // allowed name fails closed, said and recorded, until one is known.
    ++no_upstream_refused_;
    ++counted.refused;
    record_denial(slot, query, events::DenialReason::no_upstream, no_upstream_why_, transport);
    return dns::refusal(query, dns::Refusal::servfail, dns::kEdeNotReady,
                        fmt::format("agentd has no upstream resolver yet: {}", no_upstream_why_));
  }
  if (decision.allowed) {
    ++counted.allowed;
    return std::nullopt;
  }
  const bool by_rule = decision.endpoint.has_value();
  if (!by_rule && query.qtype == kTypePtr && dns::is_reverse_name(query.name))
    return answer_reverse(slot, query, counted);
  ++names_refused_;
  ++counted.refused;
  record_denial(slot, query, by_rule ? events::DenialReason::deny_rule : events::DenialReason::no_rule,
                decision.explanation, transport);
  // A name no rule decided is a request operators see (agentctl watch); a
  // denied one is the policy's answer.
  const std::string text = fmt::format(
      "agentd: {} may not resolve {} ({}). {}; check with: agentctl policy explain --agent {} --dest {}:443",
      sandbox->agent.str(), query.name, decision.explanation,
      by_rule ? "A deny rule of the policy blocks it"
              : "Operators have been asked (agentctl watch); retry once allowed",
      sandbox->agent.str(), query.name);
  return dns::refusal(query, settings_.refusal, by_rule ? dns::kEdeBlocked : dns::kEdeProhibited, text);
}

// A reverse lookup no rule allows: tools ask one for every address they
// print (ss, netstat, traceroute, curl -v), so it is no question for an
// operator. An address this sandbox resolved is answered here with the
// name it was learned from, which nothing upstream hears of; any other is
// refused quietly: NXDOMAIN, counted, no record and no request.
dns::Bytes DnsLearning::answer_reverse(uint32_t slot, const dns::Query& query, SlotQueries& counted) {
  if (auto address = dns::reverse_address(query.name)) {
    if (auto learned = name_of(slot, address->family, address->addr.data()); learned && !learned->expired) {
      ++reverse_answered_;
      ++counted.allowed;
      const auto ttl = std::clamp<int64_t>(learned->remaining.count(), 1, 300);
      return dns::local_ptr_answer(query, learned->name, static_cast<uint32_t>(ttl));
    }
  }
  ++reverse_refused_;
  ++counted.refused;
  return dns::refusal(query, dns::Refusal::nxdomain, dns::kEdeProhibited,
                      "agentd: reverse lookups are answered only for addresses this sandbox resolved; "
                      "nothing was forwarded");
}

dns::Bytes DnsLearning::learn(uint32_t slot, const dns::Query& query, const uint8_t* data, size_t size,
                              const dns::Answer* parsed) {
  dns::Bytes unchanged(data, data + size);  // not const: returned, it moves
  auto answer = parsed ? Result<dns::Answer>(*parsed) : dns::parse_answer(data, size, query);
  const Sandbox* sandbox = registry_.find_slot(slot);
  const auto* policy = applier_.policy();
  if (!answer || !sandbox || !policy) {
    if (!answer)
      spdlog::warn("upstream answer for {} not used: {}", terminal_text(query.name),
                   terminal_text(answer.error().describe()));
    return dns::error_response(data, size, 2);  // SERVFAIL: nothing learned, nothing handed out
  }
  if (answer->addresses.empty()) return unchanged;
  // The policy may have changed while upstream answered: decide again.
  auto decision = decide(*sandbox, *policy, query.name);
  if (!decision.allowed) {
    record_denial(slot, query, events::DenialReason::no_rule, "the policy changed while the query was answered", "");
    return dns::refusal(query, settings_.refusal, dns::kEdeProhibited, "agentd: the policy changed; ask again");
  }
  if (std::chrono::steady_clock::now() - host_addresses_read_ > kHostAddressesMaxAge) {
    host_addresses_ = dns::host_addresses();
    host_broadcasts_ = dns::host_broadcasts();
    host_addresses_read_ = std::chrono::steady_clock::now();
  }
  const policy::CompiledClass* compiled = applier_.compiled(sandbox->class_id);
  std::vector<dns::LearnedAddress> refused;
  const uint64_t now = monotonic_now_ns();
  for (const auto& address : answer->addresses) {
    // Broadcast, multicast, loopback, unspecified...: never a site, so
    // never learned, not even where a CIDR rule covers it (that rule opens
    // it already: then the answer keeps it). The rest of the answer is.
    if (const auto kind = dns::unlearnable_kind(address, host_broadcasts_); !kind.empty()) {
      ++unlearnable_refused_;
      if (!(compiled && dns::cidr_rule_allows(*compiled, address))) refused.push_back(address);
      spdlog::debug("DNS answer for {} in {}: {} ({}) is {}, not learned", query.name, sandbox->agent.str(),
                    address_text(address.family, address.addr), address.owner, kind);
      record_denial(slot, query, events::DenialReason::unlearnable,
                    fmt::format("{} ({}) is {}: never learned from DNS", address_text(address.family, address.addr),
                                address.owner, kind),
                    "");
      continue;
    }
    const std::string range = protected_.covering(address, host_addresses_);
    if (!range.empty() && !(compiled && dns::cidr_rule_allows(*compiled, address))) {
      ++rebinding_refused_;
      refused.push_back(address);
      record_denial(slot, query, events::DenialReason::rebinding,
                    fmt::format("{} ({}) points into the protected range {}: not learned; allow that range with a "
                                "cidr rule if it is meant",
                                address_text(address.family, address.addr), address.owner, range),
                    "");
      continue;
    }
    const Key key{slot, address.family, address.addr};
    const uint32_t ttl =
        std::clamp(address.ttl, settings_.min_ttl_seconds, std::max(kMaxTtlSeconds, settings_.min_ttl_seconds));
    Entry entry;
    entry.name = query.name;
    entry.expires_ns = std::min(now + static_cast<uint64_t>(ttl) * 1'000'000'000, decision.granted_until_ns);
    entry.ranges = decision.ranges;
    if (auto it = entries_.find(key); it != entries_.end() && it->second.expires_ns > now) {
      merge_ranges(entry.ranges, it->second.ranges);  // two live names, one address: both their ports
      // Nothing new and most of its time still ahead: no map write (a hot
      // name would otherwise cost a syscall per query).
      const uint64_t ttl_ns = static_cast<uint64_t>(ttl) * 1'000'000'000;
      if (it->second.name == entry.name && it->second.ranges.size() == entry.ranges.size() &&
          std::equal(entry.ranges.begin(), entry.ranges.end(), it->second.ranges.begin(), same_range) &&
          it->second.expires_ns >= now + ttl_ns - ttl_ns / 4)
        continue;
      entry.expires_ns = std::max(entry.expires_ns, it->second.expires_ns);
    }
    const bool is_new = !entries_.contains(key);
    if (is_new) {
      if (std::string why = admit(slot, *sandbox); !why.empty()) {
        // Nothing of this answer beyond what is learned already: the
        // sandbox gets SERVFAIL (its resolver may try again later, once
        // entries expired), and a record says which budget it hit.
        ++quota_refused_;
        quota_.refused(slot);
        record_denial(slot, query, events::DenialReason::learned_quota, why, "");
        return dns::refusal(query, dns::Refusal::servfail, dns::kEdeOther, "agentd: " + why);
      }
    }
    if (auto st = write(key, entry); !st) {
      spdlog::error("learning {} for {}: {}", address_text(address.family, address.addr), sandbox->agent.str(),
                    st.error().describe());
      refused.push_back(address);
      continue;
    }
    entries_[key] = std::move(entry);
    if (is_new) quota_.added(slot);
    ++learned_total_;
  }
  if (refused.empty()) return unchanged;
  auto filtered = dns::without_addresses(data, size, refused);
  return filtered ? *filtered : dns::error_response(data, size, 2);
}

Status DnsLearning::write(const Key& key, const Entry& entry) {
  dirty_ = true;
  return maps_.put_learned(bpf::make_learned_key(key),
                           bpf::make_learned_value(entry.expires_ns, bpf::make_rule_value(entry.ranges)));
}

void DnsLearning::erase(const Key& key) {
  if (auto st = maps_.delete_learned(bpf::make_learned_key(key)); !st)
    spdlog::error("forgetting a learned address: {}", st.error().describe());
  if (entries_.erase(key)) quota_.removed(std::get<0>(key));
  dirty_ = true;
}

bool DnsLearning::erase_oldest(uint32_t slot, bool expired_only) {
  // entries_ is ordered by slot first: this sandbox's entries are one run.
  const uint64_t now = monotonic_now_ns();
  const Key first{slot, 0, {}};
  std::optional<Key> oldest;
  uint64_t oldest_expiry = UINT64_MAX;
  for (auto it = entries_.lower_bound(first); it != entries_.end() && std::get<0>(it->first) == slot; ++it)
    if (it->second.expires_ns < oldest_expiry) {
      oldest_expiry = it->second.expires_ns;
      oldest = it->first;
    }
  if (!oldest || (expired_only && oldest_expiry > now)) {
    if (expired_only) none_expired_before_[slot] = oldest_expiry;
    return false;
  }
  erase(*oldest);
  return true;
}

std::string DnsLearning::admit(uint32_t slot, const Sandbox& sandbox) {
  using Verdict = bpf::LearnedQuota::Verdict;
  Verdict verdict = quota_.admit(slot);
  // An expired entry opens nothing any more; it is kept only so a denial can
  // say "expired". At the quota it makes room first.
  const auto searched = none_expired_before_.find(slot);
  const bool may_have_expired = searched == none_expired_before_.end() || searched->second <= monotonic_now_ns();
  while (verdict == Verdict::sandbox_full && may_have_expired && erase_oldest(slot, true)) verdict = quota_.admit(slot);
  if (verdict == Verdict::make_room) {
    // The map is full and this sandbox holds less than its fair share: the
    // largest holder gives up the entry that expires first.
    if (auto victim = quota_.victim(slot); victim && erase_oldest(*victim, false)) {
      ++evicted_;
      verdict = quota_.admit(slot);
    }
  }
  switch (verdict) {
    case Verdict::admit:
      return "";
    case Verdict::sandbox_full:
      return fmt::format(
          "{} holds {} learned addresses, its quota (--dns-learned-quota {}); names resolve again "
          "as they expire (agentctl status shows the count)",
          sandbox.agent.str(), quota_.held(slot), quota_.per_sandbox());
    default:
      return fmt::format(
          "the learned-address map is full ({} entries) and {} holds its fair share ({}); names "
          "resolve again as they expire",
          quota_.capacity(), sandbox.agent.str(), quota_.fair_share(slot));
  }
}

void DnsLearning::revalidate() {
  host_rules_.clear();  // built from the policy just replaced
  rules_policy_ = nullptr;
  const auto* policy = applier_.policy();
  std::vector<Key> gone;
  for (auto& [key, entry] : entries_) {
    const Sandbox* sandbox = registry_.find_slot(std::get<0>(key));
    if (!sandbox || !policy || entry.name.empty()) {
      if (!sandbox) gone.push_back(key);
      continue;  // a name we do not know (adopted): it keeps its TTL
    }
    auto decision = decide(*sandbox, *policy, entry.name);  // rules, then operators' name grants
    if (!decision.allowed) {
      gone.push_back(key);
      continue;
    }
    if (decision.ranges.size() != entry.ranges.size() ||
        !std::equal(decision.ranges.begin(), decision.ranges.end(), entry.ranges.begin(), same_range)) {
      entry.ranges = decision.ranges;
      if (auto st = write(key, entry); !st) spdlog::error("updating a learned address: {}", st.error().describe());
    }
  }
  for (const auto& key : gone) erase(key);
  if (!gone.empty()) spdlog::info("{} learned addresses no longer allowed, removed", gone.size());
}

void DnsLearning::collect_garbage() {
  const uint64_t now = monotonic_now_ns();
  std::vector<Key> old;
  for (const auto& [key, entry] : entries_)
    if (entry.expires_ns + kExpiredGraceNs < now) old.push_back(key);
  for (const auto& key : old) erase(key);
}

void DnsLearning::forget_slot(uint32_t slot) {
  std::vector<Key> mine;
  for (auto it = entries_.lower_bound(Key{slot, 0, {}}); it != entries_.end() && std::get<0>(it->first) == slot; ++it)
    mine.push_back(it->first);
  for (const auto& key : mine) erase(key);
  quota_.forget(slot);
  none_expired_before_.erase(slot);
  host_rules_.erase(slot);
  record_budget_.erase(slot);
  slot_queries_.erase(slot);
}

void DnsLearning::forget_departed() {
  std::set<uint32_t> departed;
  for (const auto& [key, entry] : entries_)
    if (!registry_.find_slot(std::get<0>(key))) departed.insert(std::get<0>(key));
  for (uint32_t slot : departed) forget_slot(slot);
}

void DnsLearning::adopt(const store::Store& store) {
  std::map<std::string, std::string> names;  // "slot/family/address" -> name
  if (auto saved = store.learned_names())
    for (const auto& row : *saved) names[fmt::format("{}/{}/{}", row.slot, row.family, row.address)] = row.name;
  else
    spdlog::error("reading the names of learned addresses: {}", saved.error().describe());
  auto kept = maps_.learned();
  if (!kept) {
    spdlog::error("reading learned addresses: {}", kept.error().describe());
    return;
  }
  for (const auto& [k, v] : *kept) {
    const Key key = bpf::learned_key_of(k);
    Entry entry;
    entry.expires_ns = v.expires_ns;
    entry.ranges = bpf::ranges_of(v.rules);
    const std::string id = fmt::format("{}/{}/{}", k.slot, k.family, address_text(k.family, std::get<2>(key)));
    if (auto it = names.find(id); it != names.end()) entry.name = it->second;
    if (entries_.insert_or_assign(key, std::move(entry)).second) quota_.added(k.slot);
  }
  if (!kept->empty()) spdlog::info("{} learned addresses kept from the previous daemon", kept->size());
}

void DnsLearning::save(store::Store& store) {
  if (!dirty_) return;
  std::vector<store::LearnedNameRow> rows;
  for (const auto& [key, entry] : entries_)
    if (!entry.name.empty())
      rows.push_back(
          {std::get<0>(key), std::get<1>(key), address_text(std::get<1>(key), std::get<2>(key)), entry.name});
  if (auto st = store.replace_learned_names(rows); !st) {
    spdlog::error("saving the names of learned addresses: {}", st.error().describe());
    return;  // dirty still: the next sweep tries again
  }
  dirty_ = false;
}

std::optional<LearnedName> DnsLearning::name_of(uint32_t slot, uint32_t family, const uint8_t* addr) const {
  Key key{slot, family, {}};
  std::memcpy(std::get<2>(key).data(), addr, 16);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  const uint64_t now = monotonic_now_ns();
  LearnedName learned;
  learned.name = it->second.name;
  learned.expired = it->second.expires_ns <= now;
  if (!learned.expired) learned.remaining = std::chrono::seconds((it->second.expires_ns - now) / 1'000'000'000);
  return learned;
}

std::optional<std::pair<bool, std::string>> DnsLearning::explain(uint32_t slot, const policy::Destination& dest) const {
  Key key{slot, dest.family, dest.addr};
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  const Entry& entry = it->second;
  const std::string name = entry.name.empty() ? "a name learned before agentd restarted" : entry.name;
  const uint64_t now = monotonic_now_ns();
  if (entry.expires_ns <= now)
    return std::make_pair(false, fmt::format("denied: learned through DNS from {}, but that expired {} s ago", name,
                                             (now - entry.expires_ns) / 1'000'000'000));
  // The kernel's own judgement of the entry (a host deny may close ports).
  const agentd_rule_value value = bpf::make_rule_value(entry.ranges);
  const agentd_verdict verdict = agentd_judge(&value, dest.port, dest.proto_bit);
  const bool port_ok = verdict.action == AGENTD_ACTION_ALLOW || verdict.action == AGENTD_ACTION_INFERENCE;
  return std::make_pair(
      port_ok, fmt::format("{}: learned through DNS from {} (expires in {} s){}", port_ok ? "allowed" : "denied", name,
                           (entry.expires_ns - now) / 1'000'000'000,
                           port_ok ? "" : ", but its host rules do not open this port"));
}

json DnsLearning::to_json() const {
  return {{"upstream", settings_.upstream.empty() ? json(nullptr) : json(settings_.upstream)},
          {"no_upstream", no_upstream_why_.empty() ? json(nullptr) : json(no_upstream_why_)},
          {"no_upstream_refused", no_upstream_refused_},
          {"reverse_answered", reverse_answered_},
          {"reverse_refused", reverse_refused_},
          {"port", settings_.port},
          {"min_ttl_seconds", settings_.min_ttl_seconds},
          {"refusal", settings_.refusal == dns::Refusal::nxdomain ? "nxdomain" : "refused"},
          {"protected_ranges", protected_.str()},
          {"learned_entries", entries_.size()},
          {"learned_total", learned_total_},
          {"names_refused", names_refused_},
          {"rebinding_refused", rebinding_refused_},
          {"unlearnable_refused", unlearnable_refused_},
          {"records_held", records_held_},
          {"learned_quota", quota_.per_sandbox()},
          {"learned_capacity", quota_.capacity()},
          {"quota_refused", quota_refused_},
          {"learned_evicted", evicted_}};
}

json DnsLearning::slot_json(uint32_t slot) const {
  const auto counted = slot_queries_.find(slot);
  const SlotQueries queries = counted == slot_queries_.end() ? SlotQueries{} : counted->second;
  return {{"learned", quota_.held(slot)},
          {"quota", quota_.per_sandbox()},
          {"quota_hits", quota_.hits(slot)},
          {"queries", {{"allowed", queries.allowed}, {"refused", queries.refused}}}};
}

}  // namespace agentd::daemon
