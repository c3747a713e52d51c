// The policy model: what a validated policy says, with where it said it.
// Pure: no I/O, no kernel. The loader builds it; the compiler reads it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd_abi.h"

namespace agentd::policy {

struct SourcePos {
  std::string file;
  int line = 0;             // 1-based
  int column = 0;           // 1-based
  std::string str() const;  // "file:line:column"
};

struct Diagnostic {
  SourcePos pos;
  std::string message;
  std::string str() const;  // "file:line:column: message"
};

// tenant, team and agent names: [a-z0-9][a-z0-9_.-]*, at most 63 characters.
bool is_valid_name(std::string_view name);

struct AgentName {
  std::string tenant, team, agent;
  std::string str() const;  // "tenant/team/agent"
};
Result<AgentName> parse_agent_name(std::string_view text);

struct Cidr {
  uint32_t family = AGENTD_FAMILY_IPV4;  // AGENTD_FAMILY_IPV4 or _IPV6
  std::array<uint8_t, 16> addr{};        // IPv4 in addr[0..3], network order
  uint8_t prefix = 0;                    // 0..32 or 0..128
  std::string str() const;
  uint8_t max_prefix() const { return family == AGENTD_FAMILY_IPV4 ? 32 : 128; }
  bool contains(const Cidr& other) const;
};
// Keeps the first `prefix` bits of an address, zeroes the rest.
std::array<uint8_t, 16> masked_address(const std::array<uint8_t, 16>& addr, unsigned prefix);
// "198.51.100.0/24", "2001:db8::/32", a bare address (/32 or /128). Host
// bits set is an error with a hint; IPv4-mapped IPv6 becomes IPv4.
Result<Cidr> parse_cidr(std::string_view text);

struct PortRange {
  uint16_t lo = 0, hi = 0;
};

enum class EndpointKind { allow, deny, inference };

// `verify:` as written ("name", "strict", "lenient", "off") to AGENTD_VERIFY_*.
std::optional<uint8_t> parse_verify(std::string_view text);
// AGENTD_VERIFY_* as policy writes it.
std::string_view verify_name(uint8_t verify);

// Where an endpoint came from when a `preset:` entry expanded into it.
struct PresetOrigin {
  std::string name;  // "pypi"
  SourcePos pos;     // the destination inside the preset's file
};

// One destination: a CIDR (judged in the kernel's trie) or a host pattern
// (judged by the DNS proxy, whose answers the kernel then learns).
struct Endpoint {
  uint32_t id = 0;  // index in PolicySet::endpoints
  EndpointKind kind = EndpointKind::allow;
  Cidr cidr;                     // a CIDR endpoint's network; unused when `host` is set
  std::string host;              // "api.github.com" or "*.github.com", lowercase; empty for a CIDR endpoint
  std::vector<PortRange> ports;  // empty: every port
  uint8_t proto_mask = AGENTD_PROTO_ANY;
  SourcePos pos;     // where the policy file names it (the `preset:` entry for a preset's)
  std::string path;  // "rules[0].deny[1]", "inference[0]"
  std::string tenant;
  std::optional<PresetOrigin> preset;
  // An `inbound:` endpoint: the peers that may connect or send into the
  // sandbox, on the sandbox's own ports. CIDRs only.
  bool inbound = false;
  // A host rule's `verify:` (AGENTD_VERIFY_*): what the first bytes of a
  // TCP connection it allowed must show, since its address may serve other
  // names too (a CDN). Unset: AGENTD_VERIFY_NAME.
  std::optional<uint8_t> verify;

  bool is_host() const { return !host.empty(); }
  // What the kernel checks on connections this endpoint allowed: only
  // host allows and inference hosts are verified; a CIDR or a deny never.
  uint8_t verify_mode() const {
    return is_host() && kind != EndpointKind::deny ? verify.value_or(uint8_t{AGENTD_VERIFY_NAME})
                                                   : uint8_t{AGENTD_VERIFY_OFF};
  }
  // The family as the rules trie keys it (AGENTD_FAMILY_INBOUND or'ed in).
  uint32_t key_family() const { return cidr.family | (inbound ? AGENTD_FAMILY_INBOUND : 0u); }
  // "host api.github.com" or "cidr 198.51.100.0/24".
  std::string target() const;
  // "acme.yaml:14:9 rules[0].deny[0] (cidr 198.51.100.66/32)";
  // "acme.yaml:9:9 rules[0].allow[2] (preset pypi: host files.pythonhosted.org, presets/pypi.yaml:7:5)".
  std::string describe() const;
};

struct Selector {
  std::string text;
  std::string tenant, team_glob, agent_glob;
  SourcePos pos;
  bool matches(const AgentName& agent) const;
};

struct SandboxSection;  // sandbox_section.hpp

struct Rule {
  Selector agents;
  std::vector<uint32_t> allow, deny;                  // endpoint ids
  std::vector<uint32_t> inbound_allow, inbound_deny;  // the rule's `inbound:` (endpoint ids)
  std::shared_ptr<const SandboxSection> sandbox;      // the rule's `sandbox:`, if any
  SourcePos pos;
};

struct ApprovalSettings;  // approval_settings.hpp

// How the kernel refuses a tenant's denied connect or send: EPERM (the
// default: "not permitted", what a firewall says), or ECONNREFUSED, which
// clients that retry EPERM (wget: 145 s) take as final at once.
enum class RefuseWith { eperm, econnrefused };

struct TenantPolicy {
  std::string tenant;
  std::string file;
  RefuseWith refuse_with = RefuseWith::eperm;         // the file's `refuse_with:`
  std::shared_ptr<const ApprovalSettings> approvals;  // the file's `approvals:`; null: the defaults
  std::vector<uint32_t> inference;                    // endpoint ids
  std::vector<Rule> rules;
};

// (file name, text) pairs.
using PolicyTexts = std::vector<std::pair<std::string, std::string>>;

// The texts a policy was read from, as read: what `agentctl policy diff
// PATH` compares a candidate with (control method policy.source).
struct PolicySources {
  PolicyTexts files, presets;
};

class PolicySet {
 public:
  const std::vector<TenantPolicy>& tenants() const { return tenants_; }
  const TenantPolicy* find(std::string_view tenant) const;
  const Endpoint& endpoint(uint32_t id) const { return endpoints_.at(id); }
  size_t endpoint_count() const { return endpoints_.size(); }
  size_t rule_count() const;

  // sha256 over the source files (names and contents, in name order): what
  // `agentctl status` shows, to compare with the files in Git.
  const std::string& source_digest() const { return source_digest_; }
  void set_source_digest(std::string digest) { source_digest_ = std::move(digest); }
  // Null for a policy built in memory.
  const std::shared_ptr<const PolicySources>& sources() const { return sources_; }
  void set_sources(std::shared_ptr<const PolicySources> sources) { sources_ = std::move(sources); }

  // Building (the loader's side).
  uint32_t add_endpoint(Endpoint endpoint);
  // Room for `more` endpoints: a list of a million is not copied each
  // time the table doubles (at 288 bytes an endpoint, the copies were
  // most of a large reload's peak).
  // Grows geometrically still: many small lists do not reallocate each.
  void reserve_endpoints(size_t more) {
    if (endpoints_.size() + more > endpoints_.capacity())
      endpoints_.reserve(std::max(endpoints_.size() + more, 2 * endpoints_.capacity()));
  }
  void add_tenant(TenantPolicy tenant) { tenants_.push_back(std::move(tenant)); }

 private:
  std::vector<TenantPolicy> tenants_;
  std::vector<Endpoint> endpoints_;
  std::string source_digest_;
  std::shared_ptr<const PolicySources> sources_;
};

}  // namespace agentd::policy
