// "Would agent X reach this destination, and which rule decides?" — the
// userspace mirror of the kernel's lookup: longest prefix over the compiled
// class, then bpf/verdict.h's agentd_judge, the very function the hooks run.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agentd/common/result.hpp"
#include "agentd/policy/compile.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::policy {

struct Destination {
  uint32_t family = AGENTD_FAMILY_IPV4;
  std::array<uint8_t, 16> addr{};
  std::string host;  // set (normalised) for a host name; then family and addr are unused
  uint16_t port = 0;
  uint8_t proto_bit = AGENTD_PROTO_TCP;
  // A peer connecting or sending into the sandbox (judged by `inbound:`
  // rules); then port is the sandbox's own port.
  bool inbound = false;
  // The name the connection's first bytes carry (TLS SNI, HTTP Host), for
  // a destination a host rule allows: judged as the kernel's check does.
  std::string sni;
  // "198.51.100.7:443/tcp", "[2001:db8::1]:53/udp", "api.github.com:443/tcp";
  // inbound: "from 198.51.100.7 to port 8080/tcp"
  std::string str() const;
};

// "198.51.100.7:443", "198.51.100.7:53/udp", "[2001:db8::1]:443/tcp",
// "api.github.com:443"; IPv4-mapped IPv6 is judged as IPv4. The protocol
// defaults to tcp.
Result<Destination> parse_destination(std::string_view text);

struct Decision {
  bool allowed = false;
  uint8_t action = 0;                // AGENTD_ACTION_*, 0 for the default deny
  std::optional<uint32_t> endpoint;  // the endpoint that decided
  std::string explanation;
};

Decision decide(const CompiledClass& compiled, const Destination& dest);
// The explanation names the rule: "denied by acme.yaml:14:9 rules[0].deny[0] (cidr ...)".
Decision decide(const PolicySet& policy, const CompiledClass& compiled, const Destination& dest);
// An address is judged by the CIDR rules, as the kernel's trie does; a host
// name by the host rules (decide_name): whether the DNS proxy answers the
// name, and then what its learned addresses may reach on that port. Where a
// host rule allows a TCP destination, the explanation says what its
// connections must name, and with dest.sni whether that name passes.
Result<Decision> explain(const PolicySet& policy, const AgentName& agent, const Destination& dest);

}  // namespace agentd::policy
