// Hostname rules: which names an agent may resolve through agentd's DNS
// proxy, and what the addresses learned from an allowed name may reach.
// Pure: the proxy asks, the kernel never sees names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/policy/model.hpp"
#include "agentd/policy/ranges.hpp"
#include "agentd_abi.h"

namespace agentd::policy {

// Whether `name` matches a host pattern: "api.github.com" matches itself
// only; "*.github.com" matches every subdomain at any depth (a.github.com,
// a.b.github.com), never the apex. `pattern` is as the loader keeps it
// (lowercase, no trailing dot); `name` is compared without regard to ASCII
// case and with one trailing dot ignored, as DNS compares names.
bool host_matches(std::string_view pattern, std::string_view name);

// Lowercase, one trailing dot dropped: the form names are matched in.
std::string normalize_name(std::string_view name);

// A host pattern as written in policy ("api.github.com", "*.github.com",
// "API.GitHub.com."), checked and normalised: RFC 1123 labels (letters,
// digits, '-' inside; 1-63 characters), at most 253 characters, a wildcard
// only as the whole first label, no IP literals. The error says why.
Result<std::string> parse_host_pattern(std::string_view text);
// The same for one name (no wildcard): what `explain --dest HOST:PORT` takes.
Result<std::string> parse_host_name(std::string_view text);

struct NameDecision {
  bool allowed = false;
  // The endpoint that decided: the deny that matched, or the first allow
  // (an inference host before any other); empty for the default deny.
  std::optional<uint32_t> endpoint;
  // For an allowed name: the port ranges its addresses get in the kernel,
  // flattened as in a compiled trie value: every matching allow
  // (AGENTD_ACTION_ALLOW), inference host (AGENTD_ACTION_INFERENCE) and
  // host deny (AGENTD_ACTION_DENY; only present when the deny leaves some
  // port open, e.g. `deny: [{host: x, ports: [25]}]` beside an allow of
  // every port). Judge them with agentd_judge (bpf/verdict.h). At most
  // AGENTD_MAX_PORT_RANGES. Empty when the name is denied.
  std::vector<agentd_port_range> ranges;
  std::vector<uint32_t> origins;  // the endpoint behind each range, parallel to `ranges`
  // "allowed by acme.yaml:9:9 rules[0].allow[1] (host *.github.com)".
  std::string explanation;
  // Denied because the matching rules do not fit one kernel value: not a
  // "no rule" a grant may fill (apply refuses such a policy anyway).
  bool failed_closed = false;
  // Set by the daemon when an operator's name grant allowed the name: its
  // end on the kernel's clock (CLOCK_MONOTONIC ns); addresses learned
  // through it close then at the latest, even while agentd is stopped.
  uint64_t granted_until_ns = UINT64_MAX;
};

// Precedence as for CIDRs: a matching host deny beats every allow; a
// tenant's inference host is allowed whatever a team or agent rule says;
// a name no rule matches is denied. `name` is normalised (lowercase,
// trailing dot dropped) before matching. A deny that names ports or a
// protocol refuses the name only when it leaves no allowed port open;
// otherwise its ranges go into `ranges` and the kernel denies those ports.
NameDecision decide_name(const PolicySet& policy, const AgentName& agent, std::string_view name);

// The host endpoints that apply to one agent, indexed by name: build once
// per sandbox (or policy class) and decide each query in a few hash
// lookups (one per label of the name) instead of walking the policy.
// Keeps a pointer to `policy`, which must outlive it.
// One host pattern of a sandbox's policy as the kernel's names trie holds
// it (agentd_name_key): with the ranges of every pattern that matches the
// pattern taken as a name, flattened, so that the trie's one longest match
// for a name sees all that applies to it, denies included.
struct NamePattern {
  std::string pattern;  // "api.github.com", "*.github.com"
  std::vector<OriginRange> ranges;
};

class HostRules {
 public:
  HostRules(const PolicySet& policy, const AgentName& agent);

  NameDecision decide(std::string_view name) const;
  // Ok when, for every name, the ranges of the host rules matching it fit
  // one rule value (AGENTD_MAX_PORT_RANGES); the CIDR compiler's check for
  // names, run by compile_for_agent so an overflow is refused at apply time.
  Status check() const;
  bool empty() const { return exact_.empty() && wildcard_.empty(); }
  // Every pattern that applies, in name order, flattened (see NamePattern).
  std::vector<NamePattern> patterns() const;

 private:
  // Endpoint ids whose pattern matches `name` (normalised), in policy order.
  std::vector<uint32_t> matching(std::string_view name) const;

  const PolicySet* policy_;
  AgentName agent_;
  bool has_tenant_ = false;
  std::unordered_map<std::string, std::vector<uint32_t>> exact_;     // "api.github.com"
  std::unordered_map<std::string, std::vector<uint32_t>> wildcard_;  // "github.com" for "*.github.com"
};

}  // namespace agentd::policy
