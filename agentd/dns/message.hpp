// DNS messages, parsed and built with ldns: what the proxy needs to know of
// a query, the answers it may learn from, and the refusals it writes.
// Pure: bytes in, bytes out, never a crash on what a sandbox sends.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentd/common/result.hpp"

namespace agentd::dns {

using Bytes = std::vector<uint8_t>;

// Larger messages are refused: UDP DNS stays far below, TCP allows 65535.
constexpr size_t kMaxMessageBytes = 65535;

struct Query {
  uint16_t id = 0;
  std::string name;    // lowercase, no trailing dot; "" for the root
  uint16_t qtype = 0;  // LDNS_RR_TYPE_*
  uint16_t qclass = 0;
  bool recursion_desired = false;
  bool has_edns = false;    // the query carried an OPT record
  bool dnssec_ok = false;   // its DO bit
  uint16_t udp_size = 512;  // the largest answer it takes over UDP: 512, or its EDNS size
};

// A query the proxy can judge: a standard query, one question. Anything
// else is an Error saying why (the caller answers FORMERR or NOTIMP).
Result<Query> parse_query(const uint8_t* data, size_t size);

// Query types the proxy forwards (README, "DNS"): what agents' resolvers
// ask for when they connect somewhere. ANY, AXFR, NULL and the rest are
// refused: they serve no connection and widen what a query can carry.
bool forwarded_type(uint16_t qtype);
// Why the proxy does not forward `query` (class other than IN, a type
// outside forwarded_type()), or empty when it does.
std::string not_forwarded(const Query& query);

// The query sent upstream, rebuilt from what was judged and nothing else:
// one question (the name in lowercase, so letter case carries nothing),
// class IN, RD as the sandbox set it, and when the sandbox used EDNS an
// OPT record with our UDP size and its DO bit only. No EDNS option (client
// subnet, cookie, padding), no authority or additional record and no
// other flag of the sandbox's message reaches the upstream. An error for
// a query not_forwarded() refuses.
Result<Bytes> upstream_query(const Query& query, uint16_t id);

// Whether a message answers the query sent upstream with `id`: a response
// with that id echoing the question (name, type, class). Anything else
// is discarded, never handed to the sandbox nor learned from.
bool answers(const uint8_t* data, size_t size, const Query& query, uint16_t id);

// The header id of a message, when it has a header at all.
std::optional<uint16_t> message_id(const uint8_t* data, size_t size);
// The same message with another id (the proxy's own id towards upstream).
Bytes with_id(const uint8_t* data, size_t size, uint16_t id);

struct LearnedAddress {
  uint32_t family = 0;             // AGENTD_FAMILY_IPV4 / _IPV6
  std::array<uint8_t, 16> addr{};  // IPv4 in addr[0..3]
  uint32_t ttl = 0;
  std::string owner;  // the name in the chain that held it
};

struct Answer {
  uint16_t rcode = 0;
  bool truncated = false;
  // A and AAAA records reachable from the question through the CNAME chain
  // in the answer section (at most 16 links): nothing else is learned, so
  // an upstream cannot slip in addresses for names nobody asked about.
  std::vector<LearnedAddress> addresses;
  std::vector<std::string> chain;  // the question, then each CNAME target
};
Result<Answer> parse_answer(const uint8_t* data, size_t size, const Query& query);

// The answer without the records named (rebinding: addresses not learned
// are not handed out either), as wire bytes.
Result<Bytes> without_addresses(const uint8_t* data, size_t size, const std::vector<LearnedAddress>& drop);

// servfail: the name is allowed but agentd cannot serve it now (a budget).
enum class Refusal { refused, nxdomain, servfail };

// A response to `query` with that rcode and an Extended DNS Error (RFC
// 8914) whose text tells the agent why and what to do.
Bytes refusal(const Query& query, Refusal how, uint16_t ede_code, const std::string& text);
// An empty answer with TC set (RFC 1035 4.2.1, RFC 7766): "ask again over
// TCP", for a UDP resolver whose answer would be larger than it takes.
Bytes truncated_response(const Query& query);
// An answer agentd makes itself: one PTR record naming `target`, valid for
// `ttl` seconds (a reverse lookup of an address the sandbox resolved).
Bytes local_ptr_answer(const Query& query, const std::string& target, uint32_t ttl);
// FORMERR / SERVFAIL / NOTIMP for a message whose header could be read.
Bytes error_response(const uint8_t* data, size_t size, uint16_t rcode);

// EDE info codes (RFC 8914).
constexpr uint16_t kEdeOther = 0;
constexpr uint16_t kEdeNotReady = 14;
constexpr uint16_t kEdeBlocked = 15;
constexpr uint16_t kEdeProhibited = 18;
constexpr uint16_t kEdeNotSupported = 21;

std::string type_name(uint16_t qtype);

}  // namespace agentd::dns
