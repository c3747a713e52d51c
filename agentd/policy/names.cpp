#include "agentd/policy/names.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "agentd/policy/ranges.hpp"

namespace agentd::policy {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view without_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

// Why `label` is no RFC 1123 label, or "" when it is one.
std::string label_problem(std::string_view label) {
  if (label.empty()) return "has an empty label (two dots in a row, or a leading dot)";
  if (label.size() > 63) return fmt::format("has the label \"{}\", longer than 63 characters", label);
  for (char c : label) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return fmt::format("has the character '{}' (host names use letters, digits and '-')", c);
  }
  if (label.front() == '-' || label.back() == '-')
    return fmt::format("has the label \"{}\", which starts or ends with '-'", label);
  return "";
}

// True when any port of `allow` (for any of its protocols) is left open by
// the deny ranges: a host deny refuses a name only when it closes every
// port the allows open.
bool leaves_open(const agentd_port_range& allow, const std::vector<OriginRange>& ranges) {
  for (uint8_t bit : {uint8_t{AGENTD_PROTO_TCP}, uint8_t{AGENTD_PROTO_UDP}}) {
    if (!(allow.proto_mask & bit)) continue;
    std::vector<std::pair<uint32_t, uint32_t>> denied;
    for (const auto& r : ranges)
      if (r.range.action == AGENTD_ACTION_DENY && (r.range.proto_mask & bit))
        denied.emplace_back(r.range.lo, r.range.hi);
    std::sort(denied.begin(), denied.end());
    uint32_t next_open = allow.lo;  // the lowest port of `allow` not yet known denied
    for (const auto& [lo, hi] : denied) {
      if (lo > next_open) break;
      next_open = std::max(next_open, hi + 1);
    }
    if (next_open <= allow.hi) return true;
  }
  return false;
}

}  // namespace

bool host_matches(std::string_view pattern, std::string_view name) {
  name = without_trailing_dot(name);
  if (pattern.size() >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    const std::string_view suffix = pattern.substr(1);  // ".github.com"
    return name.size() > suffix.size() && iequals(name.substr(name.size() - suffix.size()), suffix);
  }
  return iequals(pattern, name);
}

std::string normalize_name(std::string_view name) {
  std::string out(without_trailing_dot(name));
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

Result<std::string> parse_host_pattern(std::string_view text) {
  if (text.empty()) return make_error("host is empty");
  if (parse_cidr(text)) return make_error("\"{}\" is an IP address, not a host name: write it as cidr: {}", text, text);
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    return make_error("\"{}\" has non-ASCII characters: write an internationalised name in its xn-- (punycode) form",
                      text);
  const std::string name = normalize_name(text);
  if (name == "*")
    return make_error("\"*\" alone would match every name: list the hosts, or a wildcard like \"*.example.com\"");
  if (name.size() > 253) return make_error("\"{}\" is longer than 253 characters", text);
  std::string_view rest = name;
  if (rest.size() >= 2 && rest[0] == '*' && rest[1] == '.') rest.remove_prefix(2);
  if (rest.find('*') != std::string_view::npos)
    return make_error("\"{}\": a wildcard must be the whole first label, as in \"*.github.com\"", text);
  std::string_view last_label;
  for (size_t start = 0;;) {
    const size_t dot = rest.find('.', start);
    last_label = rest.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (auto problem = label_problem(last_label); !problem.empty()) return make_error("\"{}\" {}", text, problem);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (std::all_of(last_label.begin(), last_label.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return make_error("\"{}\": the last label is all digits, so it is no host name (an IP address goes in cidr:)",
                      text);
  return name;
}

Result<std::string> parse_host_name(std::string_view text) {
  auto name = parse_host_pattern(text);
  if (name && name->front() == '*')
    return make_error("\"{}\" is a pattern: name one host, such as \"{}\"", text, "www" + name->substr(1));
  return name;
}

HostRules::HostRules(const PolicySet& policy, const AgentName& agent) : policy_(&policy), agent_(agent) {
  const TenantPolicy* tenant = policy.find(agent.tenant);
  if (!tenant) return;
  has_tenant_ = true;
  auto add = [&](uint32_t id) {
    const Endpoint& e = policy.endpoint(id);
    if (!e.is_host()) return;
    if (e.host[0] == '*')
      wildcard_[e.host.substr(2)].push_back(id);
    else
      exact_[e.host].push_back(id);
  };
  for (uint32_t id : tenant->inference) add(id);
  for (const auto& rule : tenant->rules) {
    if (!rule.agents.matches(agent)) continue;
    for (uint32_t id : rule.allow) add(id);
    for (uint32_t id : rule.deny) add(id);
  }
}

std::vector<uint32_t> HostRules::matching(std::string_view name) const {
  std::vector<uint32_t> ids;
  auto take = [&](const auto& index, std::string_view key) {
    if (auto it = index.find(std::string(key)); it != index.end())
      ids.insert(ids.end(), it->second.begin(), it->second.end());
  };
  take(exact_, name);
  // "*.S" matches when S is a proper suffix of the name after a dot.
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1))
    take(wildcard_, name.substr(dot + 1));
  std::sort(ids.begin(), ids.end());
  return ids;
}

NameDecision HostRules::decide(std::string_view raw_name) const {
  NameDecision decision;
  const std::string name = normalize_name(raw_name);
  if (!has_tenant_) {
    decision.explanation = "denied: the agent's tenant has no policy (default deny)";
    return decision;
  }
  const std::vector<uint32_t> ids = matching(name);
  std::vector<OriginRange> ranges;
  for (uint32_t id : ids) append_ranges(policy_->endpoint(id), ranges);
  ranges = simplify_ranges(ranges);
  if (auto fits = check_fits_one_value(*policy_, ranges, agent_, "host " + name); !fits) {
    decision.explanation = "denied: " + fits.error().message;  // fail closed; apply refuses such a policy
    decision.failed_closed = true;
    return decision;
  }

  std::optional<uint32_t> inference, open_allow, deny;
  for (const auto& r : ranges) {
    // The first of each in policy order, whatever order simplify left.
    auto first = [&](std::optional<uint32_t>& slot) {
      if (!slot || r.origin < *slot) slot = r.origin;
    };
    if (r.range.action == AGENTD_ACTION_INFERENCE) first(inference);
    if (r.range.action == AGENTD_ACTION_DENY) first(deny);
    if (r.range.action == AGENTD_ACTION_ALLOW && leaves_open(r.range, ranges)) first(open_allow);
  }
  if (inference) {
    decision.allowed = true;
    decision.endpoint = inference;
    decision.explanation = "allowed as the tenant's inference endpoint by " + policy_->endpoint(*inference).describe();
  } else if (open_allow) {
    decision.allowed = true;
    decision.endpoint = open_allow;
    decision.explanation = "allowed by " + policy_->endpoint(*open_allow).describe();
  } else if (deny) {
    decision.endpoint = deny;
    decision.explanation = "denied by " + policy_->endpoint(*deny).describe();
  } else {
    decision.explanation = fmt::format("denied: no host rule matches {} (default deny)", name);
  }
  if (decision.allowed) {
    for (const auto& r : ranges) {
      decision.ranges.push_back(r.range);
      decision.origins.push_back(r.origin);
    }
  }
  return decision;
}

Status HostRules::check() const {
  // A name's matching set is the exact patterns equal to it plus the
  // wildcards over its suffixes; the patterns themselves, taken as names,
  // reach every such set that can occur ("*.b.example" as a name matches
  // "*.example" too).
  for (const auto* index : {&exact_, &wildcard_}) {
    for (const auto& [key, unused] : *index) {
      const std::string name = index == &exact_ ? key : "*." + key;
      std::vector<OriginRange> ranges;
      for (uint32_t id : matching(name)) append_ranges(policy_->endpoint(id), ranges);
      if (auto fits = check_fits_one_value(*policy_, simplify_ranges(ranges), agent_, "host " + name); !fits)
        return fits;
    }
  }
  return ok_status();
}

std::vector<NamePattern> HostRules::patterns() const {
  // As in check(): a pattern taken as a name matches every pattern that
  // matches the names it stands for ("*.b.example" as a name matches
  // "*.example" too), so the longest stored prefix of a name carries all
  // the patterns of that name.
  std::vector<NamePattern> out;
  for (const auto* index : {&exact_, &wildcard_}) {
    for (const auto& [key, unused] : *index) {
      const std::string name = index == &exact_ ? key : "*." + key;
      std::vector<OriginRange> ranges;
      for (uint32_t id : matching(name)) append_ranges(policy_->endpoint(id), ranges);
      out.push_back({name, simplify_ranges(ranges)});
    }
  }
  std::sort(out.begin(), out.end(), [](const NamePattern& a, const NamePattern& b) { return a.pattern < b.pattern; });
  return out;
}

NameDecision decide_name(const PolicySet& policy, const AgentName& agent, std::string_view name) {
  return HostRules(policy, agent).decide(name);
}

}  // namespace agentd::policy
