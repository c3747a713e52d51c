// How many learned-address entries each sandbox holds in the kernel's one
// shared map (agentd_learned), and whether a new one may be written. Two
// budgets, checked before every map write:
//   - a quota per sandbox (--dns-learned-quota): a sandbox that resolves
//     name after name under a wildcard rule stops at its quota, and only it
//     gets SERVFAIL;
//   - the map's capacity: when the map is full, a sandbox holding less than
//     its fair share (capacity / sandboxes holding entries) takes one entry
//     from the sandbox holding the most, so a map filled by a few sandboxes
//     still has room for every other sandbox's names.
// Pure bookkeeping, no map access: the caller erases what victim() names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace agentd::bpf {

class LearnedQuota {
 public:
  // per_sandbox 0 means no per-sandbox quota (the capacity still holds).
  LearnedQuota(uint32_t per_sandbox, size_t capacity) : per_sandbox_(per_sandbox), capacity_(capacity) {}

  enum class Verdict {
    admit,         // write it
    sandbox_full,  // the sandbox holds its quota
    map_full,      // the map is full and the sandbox holds its fair share or more
    make_room,     // the map is full: take an entry of victim() first, then write it
  };
  // May `slot` add one entry it does not hold yet?
  Verdict admit(uint32_t slot) const;
  // When admit() said make_room: the sandbox to take an entry from.
  std::optional<uint32_t> victim(uint32_t slot) const;

  void added(uint32_t slot);
  void removed(uint32_t slot);
  // A retired sandbox's counts (its entries removed first).
  void forget(uint32_t slot) { hits_.erase(slot); }
  // A refused write (sandbox_full or map_full): counted per sandbox.
  void refused(uint32_t slot) { ++hits_[slot]; }

  size_t held(uint32_t slot) const;
  uint64_t hits(uint32_t slot) const;
  size_t total() const { return total_; }
  uint32_t per_sandbox() const { return per_sandbox_; }
  size_t capacity() const { return capacity_; }
  // capacity / sandboxes holding entries (counting `slot` as one of them).
  size_t fair_share(uint32_t slot) const;

 private:
  uint32_t per_sandbox_;
  size_t capacity_;
  size_t total_ = 0;
  std::map<uint32_t, size_t> held_;    // by slot; no zero entries
  std::map<uint32_t, uint64_t> hits_;  // by slot
};

}  // namespace agentd::bpf
