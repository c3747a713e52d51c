// Where the fleet's state lives in etcd, under one prefix (README, "Fleet"):
//   <prefix>/policy/tenants/<file>.yaml   a tenant's policy file, as in a policy dir
//   <prefix>/policy/presets/<file>.yaml   a preset
//   <prefix>/policy/push                  the last push (JSON): every push rewrites it, so
//                                         the policy's revision (its keys' newest) moves
//                                         with every push, deletes included
//   <prefix>/hosts/<host>                 a host's report (JSON), under its lease
//   <prefix>/members/<host>               the host's last report and when it was sent
//                                         (no lease: a host that vanished is still listed,
//                                         "unreachable, last seen N s ago", until forgotten)
//   <prefix>/requests/<host>/<id>         a pending request of <host> (JSON), for
//                                         `agentctl watch --fleet`; gone once settled
//   <prefix>/answers/<host>/<id>          an operator's answer to it, taken (and
//                                         deleted) by <host>
//   <prefix>/grants/<host>/<id>           a team or tenant grant made on <host>, whose
//                                         id there is <id> (JSON, grant_record.hpp)
// Pure: no I/O, unit-tested.
#pragma once

#include <string>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd::fleet {

enum class PolicyKeyKind { tenant, preset, push_record };

struct PolicyKey {
  PolicyKeyKind kind;
  std::string file;  // a bare file name: safe to write into a directory (empty: push_record)
};

class KeyLayout {
 public:
  // A prefix is absolute, has no trailing '/' and no empty, "." or ".." part.
  static Result<KeyLayout> make(std::string_view prefix);

  const std::string& prefix() const { return prefix_; }
  std::string policy_prefix() const { return prefix_ + "/policy/"; }
  std::string tenant_key(std::string_view file) const { return prefix_ + "/policy/tenants/" + std::string(file); }
  std::string preset_key(std::string_view file) const { return prefix_ + "/policy/presets/" + std::string(file); }
  std::string push_key() const { return prefix_ + "/policy/push"; }
  std::string hosts_prefix() const { return prefix_ + "/hosts/"; }
  std::string host_key(std::string_view host) const { return hosts_prefix() + std::string(host); }
  std::string members_prefix() const { return prefix_ + "/members/"; }
  std::string member_key(std::string_view host) const { return members_prefix() + std::string(host); }
  std::string requests_prefix() const { return prefix_ + "/requests/"; }
  std::string request_key(std::string_view host, uint64_t id) const {
    return requests_prefix() + std::string(host) + "/" + std::to_string(id);
  }
  std::string answers_prefix(std::string_view host) const { return prefix_ + "/answers/" + std::string(host) + "/"; }
  std::string answer_key(std::string_view host, uint64_t id) const { return answers_prefix(host) + std::to_string(id); }
  std::string grants_prefix() const { return prefix_ + "/grants/"; }
  std::string grant_key(std::string_view host, uint64_t id) const {
    return grants_prefix() + std::string(host) + "/" + std::to_string(id);
  }

  // What a key under policy_prefix() holds; an error names the key and why
  // (an unknown folder, a name that is not a policy file name).
  Result<PolicyKey> classify(std::string_view key) const;

 private:
  explicit KeyLayout(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string prefix_;
};

// etcd's range_end for "every key that starts with `prefix`": the prefix
// with its last byte incremented (bytes of 0xff dropped first).
std::string range_end_of_prefix(std::string_view prefix);

// A policy file name as stored: [A-Za-z0-9_.-]+ ending in .yaml or .yml,
// not hidden. Nothing else may become a file on a host's disk.
bool is_policy_file_name(std::string_view name);
// A host name for its key: [A-Za-z0-9_.-]{1,253}, not "." or "..".
bool is_host_name(std::string_view name);

}  // namespace agentd::fleet
