// One denial, typed: what the kernel or the DNS proxy refused, built once
// where it happens (events/denial_record.cpp for the kernel's ring,
// daemon/dns_learning.cpp for the proxy) and handed as it is to every
// part that shows or keeps it. The JSON line (denial_json.cpp), the OCSF
// event (approvals/ocsf.cpp), the audit row (store/denial_row.cpp) and the
// terminal line (denial_text.cpp) are views of it; none reads another.
//
// Text fields hold what the producer made safe (safe_text): valid UTF-8,
// whatever bytes a sandbox chose.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agentd/events/denial_reason.hpp"
#include "agentd/events/record_time.hpp"

namespace agentd::events {

// The kernel's records only: the DNS proxy knows no process.
struct DenialProcess {
  uint32_t pid = 0;   // the thread
  uint32_t tgid = 0;  // the process: what operators call its pid
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string comm;  // as the sandbox set it (PR_SET_NAME)
  uint64_t cgroup_id = 0;
  bool operator==(const DenialProcess&) const = default;
};

// Where the denied connection or datagram went; for an inbound denial
// (DenialHook::packet_ingress) the peer it came from, and the sandbox's
// own port.
struct DenialDestination {
  std::string address;  // "198.51.100.7", "2001:db8::1"; empty when the kernel gave none
  uint16_t port = 0;
  std::string protocol;  // "tcp", "udp", "icmp", "icmpv6", or the protocol's number
  bool operator==(const DenialDestination&) const = default;
};

// A refused socket (sock_create) or socket option (setsockopt): what the
// sandbox asked for, as there is no destination.
struct DenialSocket {
  std::string type;      // "raw", "dgram", "type10"
  uint8_t protocol = 0;  // the socket's protocol number
  std::string option;    // setsockopt: "IPV6_RTHDR"; else empty
  bool operator==(const DenialSocket&) const = default;
};

// A refused DNS query (DenialHook::dns).
struct DenialQuery {
  std::string qtype;      // "A", "TYPE65280"
  std::string transport;  // "udp", "tcp", or empty when an upstream answer was refused
  bool operator==(const DenialQuery&) const = default;
};

struct Denial {
  DenialHook hook = DenialHook::connect4;
  DenialReason reason = DenialReason::no_rule;
  RecordClock::time_point time;        // at record precision (record_time)
  std::optional<std::string> sandbox;  // tenant/team/agent; none for a cgroup that is no sandbox
  std::optional<DenialProcess> process;
  std::string family;                            // kernel: the socket's family ("inet", "af40")
  std::optional<DenialDestination> destination;  // kernel hooks but sock_create and setsockopt
  std::optional<DenialSocket> socket;            // sock_create and setsockopt
  std::optional<DenialQuery> query;              // dns
  // dns: the name asked for; name_check: the name the connection's first
  // bytes carried.
  std::optional<std::string> name;
  std::optional<std::string> host;    // the name the destination's address was learned from
  std::optional<std::string> header;  // packet_egress: what the packet wall found
  std::optional<std::string> rule;    // the rule (or DNS decision) that decided, when one did
  // Identical denials the rate limit held back before this one (the DNS
  // proxy: any refusals of this sandbox).
  uint64_t suppressed_before = 0;
  // Other denials of this sandbox that its record budget held back since
  // its previous record.
  uint64_t held_before = 0;

  bool inbound() const { return hook == DenialHook::packet_ingress; }
  bool operator==(const Denial&) const = default;
};

// The protocol as text, as the JSON line's "protocol" string, the audit
// row and OCSF say it: the destination's, the option's socket's, the
// query's transport; empty for a refused socket (its JSON carries the
// number).
std::string protocol_text(const Denial& denial);

}  // namespace agentd::events
