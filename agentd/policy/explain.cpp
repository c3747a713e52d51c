#include "agentd/policy/explain.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "agentd/policy/names.hpp"
#include "verdict.h"

namespace agentd::policy {

std::string Destination::str() const {
  if (!host.empty()) return fmt::format("{}:{}/{}", host, port, proto_bit == AGENTD_PROTO_UDP ? "udp" : "tcp");
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AGENTD_FAMILY_IPV4 ? AF_INET : AF_INET6, addr.data(), text, sizeof(text));
  const char* proto = proto_bit == AGENTD_PROTO_UDP ? "udp" : "tcp";
  if (inbound) return fmt::format("from {} to port {}/{}", text, port, proto);
  return family == AGENTD_FAMILY_IPV4 ? fmt::format("{}:{}/{}", text, port, proto)
                                      : fmt::format("[{}]:{}/{}", text, port, proto);
}

Result<Destination> parse_destination(std::string_view text) {
  Destination dest;
  std::string_view rest = text;
  // "/proto" only after the port: a '/' before the last ':' belongs to the address.
  if (auto slash = rest.rfind('/'); slash != std::string_view::npos && slash > rest.rfind(':')) {
    auto proto = rest.substr(slash + 1);
    if (proto == "tcp")
      dest.proto_bit = AGENTD_PROTO_TCP;
    else if (proto == "udp")
      dest.proto_bit = AGENTD_PROTO_UDP;
    else
      return make_error("destination \"{}\": protocol \"{}\" is not tcp or udp", text, proto);
    rest = rest.substr(0, slash);
  }
  std::string host;
  std::string_view port_text;
  const bool bracketed = !rest.empty() && rest[0] == '[';
  if (bracketed) {
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return make_error("destination \"{}\": write IPv6 as [ADDR]:PORT", text);
    host = std::string(rest.substr(1, close - 1));
    port_text = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || rest.find(':') != colon)
      return make_error("destination \"{}\" is not ADDR:PORT (IPv6 as [ADDR]:PORT)", text);
    host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535)
    return make_error("destination \"{}\": \"{}\" is not a port (1-65535)", text, port_text);
  dest.port = static_cast<uint16_t>(port);
  auto cidr = parse_cidr(host);
  if (!cidr && !bracketed) {
    auto name = parse_host_name(host);
    if (!name) return make_error("destination \"{}\": {}", text, name.error().message);
    dest.host = std::move(*name);
    return dest;
  }
  if (!cidr || cidr->prefix != cidr->max_prefix())
    return make_error("destination \"{}\": \"{}\" is not an IP address", text, host);
  dest.family = cidr->family;
  dest.addr = cidr->addr;
  return dest;
}

namespace {

const CompiledEntry* longest_match(const CompiledClass& compiled, const Destination& dest) {
  const CompiledEntry* best = nullptr;
  const uint32_t key_family = dest.family | (dest.inbound ? AGENTD_FAMILY_INBOUND : 0u);
  for (const auto& entry : compiled.entries) {
    if (entry.family != key_family || (best && best->prefix >= entry.prefix)) continue;
    Cidr network{dest.family, entry.addr, entry.prefix};
    Cidr host{dest.family, dest.addr, network.max_prefix()};
    if (network.contains(host)) best = &entry;
  }
  return best;
}

// "allowed by ...", "denied by ..." for the endpoint that decided.
std::string decided_by(const PolicySet& policy, uint8_t action, uint32_t endpoint) {
  const char* verb = action == AGENTD_ACTION_INFERENCE ? "allowed as the tenant's inference endpoint by"
                     : action == AGENTD_ACTION_ALLOW   ? "allowed by"
                                                       : "denied by";
  return fmt::format("{} {}", verb, policy.endpoint(endpoint).describe());
}

// A host name: first whether the DNS proxy answers it, then what the
// ranges its addresses get say about this port, as the kernel will judge.
Decision decide_host(const PolicySet& policy, const AgentName& agent, const Destination& dest) {
  Decision decision;
  const NameDecision name = decide_name(policy, agent, dest.host);
  if (!name.allowed) {
    decision.endpoint = name.endpoint;
    if (name.endpoint) decision.action = AGENTD_ACTION_DENY;
    decision.explanation = name.explanation + ": the DNS proxy refuses the name";
    return decision;
  }
  agentd_rule_value value{};
  for (const auto& range : name.ranges) value.ranges[value.count++] = range;
  const agentd_verdict verdict = agentd_judge(&value, dest.port, dest.proto_bit);
  decision.action = verdict.action;
  decision.allowed = verdict.action == AGENTD_ACTION_ALLOW || verdict.action == AGENTD_ACTION_INFERENCE;
  if (verdict.index == AGENTD_RANGE_NONE) {
    decision.explanation = fmt::format("denied: {} resolves, but no host rule allows port {}/{} (default deny)",
                                       dest.host, dest.port, dest.proto_bit == AGENTD_PROTO_UDP ? "udp" : "tcp");
    return decision;
  }
  decision.endpoint = name.origins[verdict.index];
  decision.explanation = decided_by(policy, decision.action, *decision.endpoint);
  return decision;
}

// What the kernel's name check makes of a connection that a host rule
// allowed (bpf/name_check.bpf.h): its first bytes must name a host that the
// host rules allow on that port, and that no host deny names.
void explain_verification(const PolicySet& policy, const AgentName& agent, const Destination& dest,
                          Decision& decision) {
  if (!decision.allowed || !decision.endpoint || dest.inbound || dest.proto_bit != AGENTD_PROTO_TCP) return;
  const Endpoint& endpoint = policy.endpoint(*decision.endpoint);
  if (!endpoint.is_host()) {
    if (!dest.sni.empty())
      decision.explanation += "; a CIDR rule allows the address, so the name it carries is not checked";
    return;
  }
  const uint8_t verify = endpoint.verify_mode();
  if (verify == AGENTD_VERIFY_OFF) {
    decision.explanation += "; verify: off: connections are judged by address alone";
    return;
  }
  if (dest.sni.empty()) {
    decision.explanation +=
        fmt::format("; verify: {}: each connection's first bytes must name an allowed host (TLS SNI or HTTP Host){}",
                    verify_name(verify),
                    verify == AGENTD_VERIFY_STRICT    ? ", and a protocol that names none is refused"
                    : verify == AGENTD_VERIFY_LENIENT ? "; a hello without a name or with ECH passes"
                                                      : "; other protocols pass by address");
    return;
  }
  Destination named = dest;
  named.host = dest.sni;
  const Decision name = decide_host(policy, agent, named);
  if (name.allowed) {
    decision.explanation += fmt::format("; its first bytes name {}, which is {}: verified", dest.sni, name.explanation);
    return;
  }
  decision.allowed = false;
  decision.action = AGENTD_ACTION_DENY;
  decision.explanation +=
      fmt::format("; but its first bytes name {}: {}: the kernel refuses the connection at its first write", dest.sni,
                  name.explanation);
}

}  // namespace

Decision decide(const CompiledClass& compiled, const Destination& dest) {
  Decision decision;
  const CompiledEntry* entry = longest_match(compiled, dest);
  if (entry) {
    const agentd_verdict verdict = agentd_judge(&entry->value, dest.port, dest.proto_bit);
    decision.action = verdict.action;
    if (verdict.index != AGENTD_RANGE_NONE && verdict.index < entry->origins.size())
      decision.endpoint = entry->origins[verdict.index];
  }
  decision.allowed = decision.action == AGENTD_ACTION_ALLOW || decision.action == AGENTD_ACTION_INFERENCE;
  return decision;
}

Decision decide(const PolicySet& policy, const CompiledClass& compiled, const Destination& dest) {
  Decision decision = decide(compiled, dest);
  if (compiled.key.empty()) {
    decision.explanation = "denied: the agent's tenant has no policy (default deny)";
  } else if (!decision.endpoint) {
    decision.explanation =
        dest.inbound ? "denied: no inbound rule allows it (default deny)" : "denied: no rule allows it (default deny)";
  } else {
    decision.explanation = decided_by(policy, decision.action, *decision.endpoint);
  }
  return decision;
}

Result<Decision> explain(const PolicySet& policy, const AgentName& agent, const Destination& dest) {
  if (dest.inbound && !dest.host.empty())
    return make_error("inbound peer \"{}\" must be an address: inbound rules judge the address that connects in",
                      dest.host);
  if (!dest.host.empty()) {
    Decision decision = decide_host(policy, agent, dest);
    explain_verification(policy, agent, dest, decision);
    return decision;
  }
  auto compiled = compile_for_agent(policy, agent);
  if (!compiled) return compiled.error();
  Decision decision = decide(policy, *compiled, dest);
  explain_verification(policy, agent, dest, decision);
  return decision;
}

}  // namespace agentd::policy
