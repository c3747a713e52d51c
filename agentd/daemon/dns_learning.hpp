// What the DNS proxy asks the daemon: may this sandbox resolve this name,
// and which addresses of the answer does it learn. Learned addresses go
// into the kernel (agentd_learned) with their TTL before the answer goes
// back; the daemon remembers which name each came from, for denial records
// and `explain`, keeps them across reloads while the policy still allows
// the name, and forgets them some time after they expired.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/bpf/learned_entry.hpp"
#include "agentd/bpf/learned_quota.hpp"
#include "agentd/bpf/kernel_maps.hpp"
#include "agentd/daemon/policy_applier.hpp"
#include "agentd/daemon/sandbox_registry.hpp"
#include "agentd/events/denial.hpp"
#include "agentd/dns/proxy.hpp"
#include "agentd/dns/rebinding.hpp"
#include "agentd/dns/unlearnable.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/names.hpp"
#include "agentd/store/store.hpp"

namespace agentd::daemon {

struct DnsSettings {
  bool enabled = true;
  std::string upstream;  // empty: the first nameserver of resolv_conf, followed as it changes
  std::string resolv_conf = "/etc/resolv.conf";
  uint16_t port = 1053;
  // IPv6 servers: sandbox <slot> is served at [::1]:<base + slot>; 16384
  // keeps every slot below the kernel's ephemeral ports. 0: off.
  uint16_t ipv6_port_base = 16384;
  uint32_t min_ttl_seconds = 60;
  dns::Refusal refusal = dns::Refusal::nxdomain;
  std::string protected_ranges;  // empty: the defaults
  // Learned addresses one sandbox may hold in the kernel at once (0: no
  // quota); the map holds AGENTD_MAX_LEARNED for every sandbox together:
  // 4096 lets 64 sandboxes fill their quota before the map is full, and a
  // full map makes room for a sandbox below its fair share (learned_quota.hpp).
  uint32_t learned_quota = 4096;
  dns::ClientLimits limits;  // the proxy's per-sandbox budgets
};

struct LearnedName {
  std::string name;
  bool expired = false;
  std::chrono::seconds remaining{0};
};

class DnsLearning : public dns::QueryJudge {
 public:
  using DenialSink = std::function<void(events::Denial denial)>;

  DnsLearning(const DnsSettings& settings, dns::ProtectedRanges protected_ranges, bpf::KernelMaps& maps,
              const PolicyApplier& applier, const SandboxRegistry& registry, DenialSink denials);

  // Operators' name grants: for an agent and a name no rule decided, how
  // the grant that opens it reads ("granted by ..."), when it ends
  // (CLOCK_MONOTONIC ns) and the ports its addresses open on (empty: every
  // port), or nothing.
  struct GrantedName {
    std::string explanation;
    uint64_t until_ns = 0;
    std::vector<policy::PortRange> ports;
  };
  using NameGrants = std::function<std::optional<GrantedName>(const policy::AgentName&, std::string_view name)>;
  void set_name_grants(NameGrants grants) { name_grants_ = std::move(grants); }

  std::optional<dns::Bytes> judge(uint32_t slot, const dns::Query& query, const std::string& transport) override;
  dns::Bytes learn(uint32_t slot, const dns::Query& query, const uint8_t* data, size_t size,
                   const dns::Answer* parsed = nullptr) override;

  // The upstream resolver the proxy forwards to ("198.51.100.53:53"), or
  // none, and why: then allowed names get SERVFAIL (EDE Not Ready) and a
  // `no_upstream` record until one is set.
  void set_upstream(const std::string& upstream, const std::string& why_none = "");
  const std::string& upstream() const { return settings_.upstream; }
  // Why there is no upstream ("" while there is one).
  const std::string& no_upstream_why() const { return no_upstream_why_; }

  // After a reload: what the new policy no longer allows goes, the rest
  // gets the new policy's ports.
  void revalidate();
  // Entries that expired long ago leave the kernel and the table.
  void collect_garbage();
  // A retired sandbox: everything it learned leaves the kernel, and what
  // was kept per slot goes, so the slot's next sandbox starts clean.
  void forget_slot(uint32_t slot);
  // At start: the slots the registry does not hold, forgotten.
  void forget_departed();
  // Entries the kernel kept from a previous daemon, with the names saved
  // in the store; and the save itself (when something changed).
  void adopt(const store::Store& store);
  void save(store::Store& store);

  std::optional<LearnedName> name_of(uint32_t slot, uint32_t family, const uint8_t* addr) const;
  // What the kernel's learned entry says of a destination the rules leave
  // undecided: (allowed, "learned through DNS from NAME, expires in 42 s").
  std::optional<std::pair<bool, std::string>> explain(uint32_t slot, const policy::Destination& dest) const;
  nlohmann::json to_json() const;
  // One sandbox's share: {"learned": held, "quota": ..., "quota_hits": ...}.
  nlohmann::json slot_json(uint32_t slot) const;

 private:
  using Key = bpf::LearnedKey;  // slot, family, address
  struct Entry {
    std::string name;
    uint64_t expires_ns = 0;  // CLOCK_MONOTONIC, as the kernel compares
    std::vector<agentd_port_range> ranges;
  };
  // The sandbox's host rules, indexed once per policy (a query then costs
  // a hash lookup per label, not a pass over the tenant's rules).
  policy::NameDecision decide(const Sandbox& sandbox, const policy::PolicySet& policy, std::string_view name);
  Status write(const Key& key, const Entry& entry);
  void erase(const Key& key);
  // Before a new entry of `slot` is written: its own long-expired entries
  // go first, then the quota decides. Empty when it may be written, else
  // why not (the EDE text).
  std::string admit(uint32_t slot, const Sandbox& sandbox);
  // Erases the entry of `slot` that expired first, or expires next.
  bool erase_oldest(uint32_t slot, bool expired_only);
  void record_denial(uint32_t slot, const dns::Query& query, events::DenialReason reason, const std::string& why,
                     const std::string& transport);

  DnsSettings settings_;
  dns::ProtectedRanges protected_;
  bpf::KernelMaps& maps_;
  const PolicyApplier& applier_;
  const SandboxRegistry& registry_;
  DenialSink denials_;
  NameGrants name_grants_;
  std::map<Key, Entry> entries_;
  bpf::LearnedQuota quota_;  // counts what entries_ holds, by slot
  // A sandbox at its quota whose entries were searched for an expired one
  // in vain: none expires before this (CLOCK_MONOTONIC ns), so its next
  // query need not search again (a search walks all its entries).
  std::map<uint32_t, uint64_t> none_expired_before_;
  const policy::PolicySet* rules_policy_ = nullptr;   // what host_rules_ were built from
  std::map<uint32_t, policy::HostRules> host_rules_;  // by slot
  std::vector<policy::Cidr> host_addresses_;
  std::vector<policy::Cidr> host_broadcasts_;  // read with host_addresses_
  std::chrono::steady_clock::time_point host_addresses_read_{};
  struct RecordBudget {
    std::chrono::steady_clock::time_point window_start{};
    uint32_t used = 0;  // records in this window
    uint64_t held = 0;  // refusals not recorded since the last record
  };
  std::map<uint32_t, RecordBudget> record_budget_;  // by slot
  // Each sandbox's queries by verdict (status, metrics); a reused slot
  // starts from zero.
  struct SlotQueries {
    uint64_t allowed = 0, refused = 0;
  };
  std::map<uint32_t, SlotQueries> slot_queries_;
  dns::Bytes answer_reverse(uint32_t slot, const dns::Query& query, SlotQueries& counted);
  uint64_t learned_total_ = 0, rebinding_refused_ = 0, unlearnable_refused_ = 0, names_refused_ = 0, records_held_ = 0,
           quota_refused_ = 0, evicted_ = 0, no_upstream_refused_ = 0, reverse_answered_ = 0, reverse_refused_ = 0;
  std::string no_upstream_why_;
  bool dirty_ = false;
};

uint64_t monotonic_now_ns();

}  // namespace agentd::daemon
