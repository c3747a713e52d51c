#include "agentd/policy/explain.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "verdict.h"

namespace agentd::policy {

std::string Destination::str() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AGENTD_FAMILY_IPV4 ? AF_INET : AF_INET6, addr.data(), text, sizeof(text));
  const char* proto = proto_bit == AGENTD_PROTO_UDP ? "udp" : "tcp";
  return family == AGENTD_FAMILY_IPV4 ? fmt::format("{}:{}/{}", text, port, proto)
                                      : fmt::format("[{}]:{}/{}", text, port, proto);
}

Result<Destination> parse_destination(std::string_view text) {
  Destination dest;
  std::string_view rest = text;
  // "/proto" only after the port: a '/' before the last ':' belongs to the address.
  if (auto slash = rest.rfind('/'); slash != std::string_view::npos && slash > rest.rfind(':')) {
    auto proto = rest.substr(slash + 1);
    if (proto == "tcp") dest.proto_bit = AGENTD_PROTO_TCP;
    else if (proto == "udp") dest.proto_bit = AGENTD_PROTO_UDP;
    else return make_error("destination \"{}\": protocol \"{}\" is not tcp or udp", text, proto);
    rest = rest.substr(0, slash);
  }
  std::string host;
  std::string_view port_text;
  if (!rest.empty() && rest[0] == '[') {
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
  if (!cidr || cidr->prefix != cidr->max_prefix())
    return make_error("destination \"{}\": \"{}\" is not an IP address", text, host);
  dest.family = cidr->family;
  dest.addr = cidr->addr;
  return dest;
}

namespace {

const CompiledEntry* longest_match(const CompiledClass& compiled, const Destination& dest) {
  const CompiledEntry* best = nullptr;
  for (const auto& entry : compiled.entries) {
    if (entry.family != dest.family || (best && best->prefix >= entry.prefix)) continue;
    Cidr network{entry.family, entry.addr, entry.prefix};
    Cidr host{dest.family, dest.addr, network.max_prefix()};
    if (network.contains(host)) best = &entry;
  }
  return best;
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
    decision.explanation = "denied: no rule allows it (default deny)";
  } else {
    const Endpoint& e = policy.endpoint(*decision.endpoint);
    const char* verb = decision.action == AGENTD_ACTION_INFERENCE ? "allowed as the tenant's inference endpoint by"
                       : decision.allowed                         ? "allowed by"
                                                                  : "denied by";
    decision.explanation = fmt::format("{} {}", verb, e.describe());
  }
  return decision;
}

Result<Decision> explain(const PolicySet& policy, const AgentName& agent, const Destination& dest) {
  auto compiled = compile_for_agent(policy, agent);
  if (!compiled) return compiled.error();
  return decide(policy, *compiled, dest);
}

}  // namespace agentd::policy
