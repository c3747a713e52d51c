#include "agentd/dns/message.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "agentd_abi.h"

// Last: ldns's headers may define `bool` as a macro.
#include <ldns/ldns.h>

namespace agentd::dns {
namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;

constexpr size_t kHeaderBytes = 12;
constexpr int kMaxChain = 16;
constexpr uint16_t kOurUdpSize = 1232;  // what we advertise (the DNS flag day's size)

uint16_t header_count(const uint8_t* data, size_t offset) {
  return static_cast<uint16_t>(data[offset] << 8 | data[offset + 1]);
}

// ldns_wire2pkt keeps one OPT and one TSIG record of the additional
// section and loses, never frees, any earlier one it read (libldns 1.8.3):
// a sandbox or an upstream repeating them would grow agentd with every
// message (found by the DNS fuzz target). So a message with more than one
// of either is refused before ldns reads it whole; agentd signs nothing,
// and needs no TSIG. Walked with ldns's own RR reader, and only where the
// additional section holds two records or more.
Status check_additional_section(const uint8_t* data, size_t size) {
  const uint16_t counts[4] = {header_count(data, 4), header_count(data, 6), header_count(data, 8),
                              header_count(data, 10)};
  if (counts[3] < 2) return ok_status();
  const ldns_pkt_section sections[4] = {LDNS_SECTION_QUESTION, LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY,
                                        LDNS_SECTION_ADDITIONAL};
  size_t pos = kHeaderBytes;
  unsigned opt = 0, tsig = 0;
  for (int s = 0; s < 4; ++s) {
    for (uint16_t i = 0; i < counts[s]; ++i) {
      ldns_rr* rr = nullptr;
      if (ldns_status status = ldns_wire2rr(&rr, data, size, &pos, sections[s]); status != LDNS_STATUS_OK)
        return make_error("malformed DNS message: {}", ldns_get_errorstr_by_id(status));
      if (s == 3) {
        opt += ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT;
        tsig += ldns_rr_get_type(rr) == LDNS_RR_TYPE_TSIG;
      }
      ldns_rr_free(rr);
    }
  }
  if (opt > 1 || tsig > 1)
    return make_error("malformed DNS message: {} OPT and {} TSIG records in the additional section", opt, tsig);
  return ok_status();
}

Result<PktPtr> parse(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return make_error("{} bytes: shorter than a DNS header", size);
  if (size > kMaxMessageBytes) return make_error("{} bytes: longer than a DNS message may be", size);
  if (auto checked = check_additional_section(data, size); !checked) return checked.error();
  ldns_pkt* raw = nullptr;
  if (ldns_status status = ldns_wire2pkt(&raw, data, size); status != LDNS_STATUS_OK)
    return make_error("malformed DNS message: {}", ldns_get_errorstr_by_id(status));
  return PktPtr(raw);
}

// "Api.Example.COM." -> "api.example.com"; escapes stay as ldns writes them.
std::string normal_name(const ldns_rdf* rdf) {
  char* text = ldns_rdf2str(rdf);
  if (!text) return {};
  std::string name(text);
  free(text);
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

Result<Bytes> to_wire(const ldns_pkt* pkt) {
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK) return make_error("cannot encode the DNS message");
  Bytes bytes(wire, wire + size);
  free(wire);
  return bytes;
}

bool same_address(const LearnedAddress& a, const ldns_rr* rr) {
  const ldns_rdf* rdf = ldns_rr_rdf(rr, 0);
  if (!rdf) return false;
  const size_t len = ldns_rdf_size(rdf);
  const bool v4 = ldns_rr_get_type(rr) == LDNS_RR_TYPE_A;
  if ((v4 && (a.family != AGENTD_FAMILY_IPV4 || len != 4)) || (!v4 && (a.family != AGENTD_FAMILY_IPV6 || len != 16)))
    return false;
  return std::memcmp(a.addr.data(), ldns_rdf_data(rdf), len) == 0;
}

}  // namespace

Result<Query> parse_query(const uint8_t* data, size_t size) {
  auto pkt = parse(data, size);
  if (!pkt) return pkt.error();
  ldns_pkt* p = pkt->get();
  if (ldns_pkt_qr(p)) return make_error("a response where a query was expected");
  if (ldns_pkt_get_opcode(p) != LDNS_PACKET_QUERY)
    return make_error("opcode {} is not a standard query", static_cast<int>(ldns_pkt_get_opcode(p)));
  if (ldns_pkt_qdcount(p) != 1) return make_error("{} questions: a query has exactly one", ldns_pkt_qdcount(p));
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(p), 0);
  if (!question) return make_error("the question is missing");
  Query query;
  query.id = ldns_pkt_id(p);
  query.name = normal_name(ldns_rr_owner(question));
  query.qtype = ldns_rr_get_type(question);
  query.qclass = ldns_rr_get_class(question);
  query.recursion_desired = ldns_pkt_rd(p);
  query.has_edns = ldns_pkt_edns(p);
  if (query.has_edns) query.udp_size = std::max<uint16_t>(512, ldns_pkt_edns_udp_size(p));
  query.dnssec_ok = query.has_edns && ldns_pkt_edns_do(p);
  return query;
}

bool forwarded_type(uint16_t qtype) {
  switch (qtype) {
    case LDNS_RR_TYPE_A:
    case LDNS_RR_TYPE_AAAA:
    case LDNS_RR_TYPE_CNAME:
    case LDNS_RR_TYPE_HTTPS:
    case LDNS_RR_TYPE_SVCB:
    case LDNS_RR_TYPE_MX:
    case LDNS_RR_TYPE_TXT:
    case LDNS_RR_TYPE_SRV:
    case LDNS_RR_TYPE_PTR:
    case LDNS_RR_TYPE_NS:
    case LDNS_RR_TYPE_SOA:
    case LDNS_RR_TYPE_CAA:
      return true;
    default:
      return false;
  }
}

std::string not_forwarded(const Query& query) {
  if (query.qclass != LDNS_RR_CLASS_IN) return fmt::format("class {} is not forwarded (only IN)", query.qclass);
  if (!forwarded_type(query.qtype)) return fmt::format("type {} is not forwarded", type_name(query.qtype));
  return {};
}

Result<Bytes> upstream_query(const Query& query, uint16_t id) {
  // Never built for what the proxy does not forward (the judge refuses it
  // first); ldns would also turn type 0 into A.
  if (std::string why = not_forwarded(query); !why.empty()) return make_error("{}", why);
  ldns_rdf* owner = nullptr;
  if (ldns_str2rdf_dname(&owner, (query.name + ".").c_str()) != LDNS_STATUS_OK)
    return make_error("the name \"{}\" cannot be encoded", query.name);
  // ldns_pkt_query_new takes the name.
  PktPtr pkt(ldns_pkt_query_new(owner, static_cast<ldns_rr_type>(query.qtype), LDNS_RR_CLASS_IN,
                                query.recursion_desired ? LDNS_RD : 0));
  if (!pkt) return make_error("cannot build the upstream query");
  ldns_pkt_set_id(pkt.get(), id);
  if (query.has_edns) {
    ldns_pkt_set_edns_udp_size(pkt.get(), kOurUdpSize);
    ldns_pkt_set_edns_do(pkt.get(), query.dnssec_ok);
  }
  return to_wire(pkt.get());
}

bool answers(const uint8_t* data, size_t size, const Query& query, uint16_t id) {
  auto pkt = parse(data, size);
  if (!pkt) return false;
  ldns_pkt* p = pkt->get();
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(p), 0);
  return ldns_pkt_qr(p) && ldns_pkt_id(p) == id && ldns_pkt_qdcount(p) == 1 && question &&
         normal_name(ldns_rr_owner(question)) == query.name && ldns_rr_get_type(question) == query.qtype &&
         ldns_rr_get_class(question) == LDNS_RR_CLASS_IN;
}

std::optional<uint16_t> message_id(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return std::nullopt;
  return static_cast<uint16_t>((data[0] << 8) | data[1]);
}

Bytes with_id(const uint8_t* data, size_t size, uint16_t id) {
  Bytes bytes(data, data + size);
  if (bytes.size() >= 2) {
    bytes[0] = static_cast<uint8_t>(id >> 8);
    bytes[1] = static_cast<uint8_t>(id & 0xff);
  }
  return bytes;
}

Result<Answer> parse_answer(const uint8_t* data, size_t size, const Query& query) {
  auto pkt = parse(data, size);
  if (!pkt) return pkt.error();
  ldns_pkt* p = pkt->get();
  if (!ldns_pkt_qr(p)) return make_error("a query where a response was expected");
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(p), 0);
  if (ldns_pkt_qdcount(p) != 1 || !question || normal_name(ldns_rr_owner(question)) != query.name ||
      ldns_rr_get_type(question) != query.qtype)
    return make_error("the response answers another question");
  Answer answer;
  answer.rcode = ldns_pkt_get_rcode(p);
  answer.truncated = ldns_pkt_tc(p);

  // owner -> its records in the answer section
  std::multimap<std::string, const ldns_rr*> by_owner;
  const ldns_rr_list* records = ldns_pkt_answer(p);
  for (size_t i = 0; i < ldns_rr_list_rr_count(records); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(records, i);
    if (ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN) by_owner.emplace(normal_name(ldns_rr_owner(rr)), rr);
  }
  std::string current = query.name;
  answer.chain.push_back(current);
  for (int hop = 0; hop <= kMaxChain; ++hop) {
    std::string next;
    auto [first, last] = by_owner.equal_range(current);
    for (auto it = first; it != last; ++it) {
      const ldns_rr* rr = it->second;
      const ldns_rdf* rdf = ldns_rr_rdf(rr, 0);
      if (!rdf) continue;
      const auto type = ldns_rr_get_type(rr);
      if (type == LDNS_RR_TYPE_CNAME && next.empty()) {
        next = normal_name(rdf);
      } else if ((type == LDNS_RR_TYPE_A && ldns_rdf_size(rdf) == 4) ||
                 (type == LDNS_RR_TYPE_AAAA && ldns_rdf_size(rdf) == 16)) {
        LearnedAddress a;
        a.family = type == LDNS_RR_TYPE_A ? AGENTD_FAMILY_IPV4 : AGENTD_FAMILY_IPV6;
        std::memcpy(a.addr.data(), ldns_rdf_data(rdf), ldns_rdf_size(rdf));
        a.ttl = ldns_rr_ttl(rr);
        a.owner = current;
        answer.addresses.push_back(a);
      }
    }
    if (next.empty() || std::find(answer.chain.begin(), answer.chain.end(), next) != answer.chain.end()) break;
    current = next;  // a loop stops here: each name is visited once
    answer.chain.push_back(current);
  }
  return answer;
}

Result<Bytes> without_addresses(const uint8_t* data, size_t size, const std::vector<LearnedAddress>& drop) {
  auto pkt = parse(data, size);
  if (!pkt) return pkt.error();
  ldns_rr_list* kept = ldns_rr_list_new();
  const ldns_rr_list* records = ldns_pkt_answer(pkt->get());
  for (size_t i = 0; i < ldns_rr_list_rr_count(records); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(records, i);
    const auto type = ldns_rr_get_type(rr);
    const bool dropped = (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA) &&
                         std::any_of(drop.begin(), drop.end(), [&](const auto& a) { return same_address(a, rr); });
    if (!dropped) ldns_rr_list_push_rr(kept, ldns_rr_clone(rr));
  }
  ldns_rr_list_deep_free(ldns_pkt_answer(pkt->get()));
  ldns_pkt_set_answer(pkt->get(), kept);
  ldns_pkt_set_ancount(pkt->get(), static_cast<uint16_t>(ldns_rr_list_rr_count(kept)));
  return to_wire(pkt->get());
}

namespace {

// A response to `query`: its id, flags and question, no records yet.
PktPtr response_to(const Query& query) {
  PktPtr pkt(ldns_pkt_new());
  ldns_pkt* p = pkt.get();
  ldns_pkt_set_id(p, query.id);
  ldns_pkt_set_qr(p, true);
  ldns_pkt_set_opcode(p, LDNS_PACKET_QUERY);
  ldns_pkt_set_rd(p, query.recursion_desired);
  ldns_pkt_set_ra(p, true);
  ldns_rdf* owner = nullptr;
  if (ldns_str2rdf_dname(&owner, (query.name + ".").c_str()) == LDNS_STATUS_OK) {
    ldns_rr* question = ldns_rr_new();
    ldns_rr_set_owner(question, owner);
    ldns_rr_set_type(question, static_cast<ldns_rr_type>(query.qtype));
    ldns_rr_set_class(question, static_cast<ldns_rr_class>(query.qclass));
    ldns_rr_set_question(question, true);
    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, question);
  }
  return pkt;
}

}  // namespace

Bytes refusal(const Query& query, Refusal how, uint16_t ede_code, const std::string& text) {
  PktPtr pkt = response_to(query);
  ldns_pkt* p = pkt.get();
  ldns_pkt_set_rcode(p, how == Refusal::nxdomain   ? LDNS_RCODE_NXDOMAIN
                        : how == Refusal::servfail ? LDNS_RCODE_SERVFAIL
                                                   : LDNS_RCODE_REFUSED);
  // RFC 6891: an OPT record (and so the EDE) only to a query that had one.
  if (query.has_edns) {
    std::string data(2, '\0');
    data[0] = static_cast<char>(ede_code >> 8);
    data[1] = static_cast<char>(ede_code & 0xff);
    data += text.substr(0, 400);
    ldns_edns_option_list* options = ldns_edns_option_list_new();
    ldns_edns_option_list_push(options, ldns_edns_new_from_data(LDNS_EDNS_EDE, data.size(), data.data()));
    ldns_pkt_set_edns_option_list(p, options);
    ldns_pkt_set_edns_udp_size(p, kOurUdpSize);
  }
  auto wire = to_wire(p);
  return wire ? *wire : Bytes{};
}

Bytes local_ptr_answer(const Query& query, const std::string& target, uint32_t ttl) {
  PktPtr pkt = response_to(query);
  ldns_pkt* p = pkt.get();
  ldns_pkt_set_aa(p, false);
  ldns_rdf* owner = nullptr;
  ldns_rdf* rdata = nullptr;
  if (ldns_str2rdf_dname(&owner, (query.name + ".").c_str()) != LDNS_STATUS_OK ||
      ldns_str2rdf_dname(&rdata, (target + ".").c_str()) != LDNS_STATUS_OK) {
    ldns_rdf_deep_free(owner);
    ldns_rdf_deep_free(rdata);
    return refusal(query, Refusal::servfail, kEdeOther, "agentd: cannot write this answer");
  }
  ldns_rr* rr = ldns_rr_new();
  ldns_rr_set_owner(rr, owner);
  ldns_rr_set_type(rr, LDNS_RR_TYPE_PTR);
  ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr, ttl);
  ldns_rr_push_rdf(rr, rdata);
  ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
  if (query.has_edns) ldns_pkt_set_edns_udp_size(p, kOurUdpSize);
  auto wire = to_wire(p);
  return wire ? *wire : Bytes{};
}

Bytes truncated_response(const Query& query) {
  PktPtr pkt = response_to(query);
  ldns_pkt_set_tc(pkt.get(), true);
  if (query.has_edns) ldns_pkt_set_edns_udp_size(pkt.get(), kOurUdpSize);
  auto wire = to_wire(pkt.get());
  return wire ? *wire : Bytes{};
}

Bytes error_response(const uint8_t* data, size_t size, uint16_t rcode) {
  // The header alone: its id, QR set, the opcode kept, no records.
  Bytes bytes(kHeaderBytes, 0);
  if (size >= 2) std::memcpy(bytes.data(), data, 2);
  bytes[2] = static_cast<uint8_t>(0x80 | (size >= 3 ? (data[2] & 0x78) : 0));
  bytes[3] = static_cast<uint8_t>(0x80 | (rcode & 0x0f));
  return bytes;
}

std::string type_name(uint16_t qtype) {
  // ldns_rr_type2str knows the meta types too (ANY, AXFR), which have no
  // descriptor; unknown ones read "TYPE65280".
  char* text = ldns_rr_type2str(static_cast<ldns_rr_type>(qtype));
  std::string name = text ? text : fmt::format("TYPE{}", qtype);
  free(text);
  return name;
}

}  // namespace agentd::dns
