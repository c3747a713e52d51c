// DNS message handling: queries judged, answers learned only along the
// CNAME chain, refusals with an Extended DNS Error, garbage survived.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "agentd/dns/message.hpp"
#include "agentd/dns/rebinding.hpp"
#include "agentd_abi.h"

#include "dns_wire.hpp"  // last: it brings ldns's headers

using namespace agentd::dns;
using agentd::testing::wire;

TEST_CASE("a query is read with its name normalised") {
  auto bytes = wire(7, "Api.Example.TEST.", LDNS_RR_TYPE_AAAA, false, {}, true);
  auto query = parse_query(bytes.data(), bytes.size());
  REQUIRE(query);
  CHECK(query->id == 7);
  CHECK(query->name == "api.example.test");
  CHECK(query->qtype == LDNS_RR_TYPE_AAAA);
  CHECK(query->has_edns);
  CHECK(query->udp_size == 1232);
  CHECK(type_name(query->qtype) == "AAAA");
  auto plain_bytes = wire(8, "api.example.test.", LDNS_RR_TYPE_A, false);
  auto plain = parse_query(plain_bytes.data(), plain_bytes.size());
  REQUIRE(plain);
  CHECK_FALSE(plain->has_edns);
  CHECK(plain->udp_size == 512);  // RFC 1035: without EDNS, 512 bytes over UDP
}

TEST_CASE("what is not a single standard query is refused with a reason") {
  auto response = wire(1, "a.test.", LDNS_RR_TYPE_A, true);
  CHECK(parse_query(response.data(), response.size()).error().describe().find("a response") != std::string::npos);
  const uint8_t short_header[5] = {1, 2, 3, 4, 5};
  CHECK(parse_query(short_header, sizeof(short_header)).error().describe().find("shorter than a DNS header") !=
        std::string::npos);
  auto truncated = wire(1, "a.test.", LDNS_RR_TYPE_A, false);
  truncated.resize(truncated.size() - 3);
  CHECK_FALSE(parse_query(truncated.data(), truncated.size()).ok());
  // FORMERR keeps the id and sets QR.
  auto formerr = error_response(truncated.data(), truncated.size(), 1);
  REQUIRE(formerr.size() == 12);
  CHECK(formerr[0] == truncated[0]);
  CHECK((formerr[2] & 0x80) != 0);
  CHECK((formerr[3] & 0x0f) == 1);
}

TEST_CASE("two OPT or two TSIG records are refused before ldns reads them (it loses all but one)") {
  // The header's additional count says two; the records follow the question.
  auto two_of = [](const std::string& record) {
    Bytes bytes = wire(9, "api.example.test.", LDNS_RR_TYPE_A, false);
    bytes[11] = 2;
    bytes.insert(bytes.end(), record.begin(), record.end());
    bytes.insert(bytes.end(), record.begin(), record.end());
    return bytes;
  };
  // OPT: root owner, type 41, size 1232, no flags, no data.
  const std::string opt("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);
  // TSIG: owner "k.", type 250, class ANY, TTL 0, and its 17 bytes of data:
  // algorithm ".", time, fudge, an empty MAC, original id, error, no other data.
  const std::string tsig = std::string("\x01k\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x11", 13) + std::string(17, '\0');
  for (const auto& record : {opt, tsig}) {
    const Bytes bytes = two_of(record);
    auto query = parse_query(bytes.data(), bytes.size());
    REQUIRE_FALSE(query);
    CHECK(query.error().describe().find("records in the additional section") != std::string::npos);
  }
  // One OPT (EDNS) is what queries carry.
  const Bytes one = wire(9, "api.example.test.", LDNS_RR_TYPE_A, false, {}, true);
  CHECK(parse_query(one.data(), one.size()).ok());
}

TEST_CASE("only addresses along the question's CNAME chain are learned") {
  auto query_bytes = wire(9, "alias.test.", LDNS_RR_TYPE_A, false);
  auto query = parse_query(query_bytes.data(), query_bytes.size());
  REQUIRE(query);
  auto answer = wire(9, "alias.test.", LDNS_RR_TYPE_A, true,
                     {"alias.test. 60 IN CNAME middle.test.", "middle.test. 60 IN CNAME target.test.",
                      "target.test. 30 IN A 198.51.100.7", "unrelated.test. 60 IN A 203.0.113.66"});
  auto parsed = parse_answer(answer.data(), answer.size(), *query);
  REQUIRE(parsed);
  CHECK(parsed->chain == std::vector<std::string>{"alias.test", "middle.test", "target.test"});
  REQUIRE(parsed->addresses.size() == 1);
  CHECK(parsed->addresses[0].family == AGENTD_FAMILY_IPV4);
  CHECK(parsed->addresses[0].addr[0] == 198);
  CHECK(parsed->addresses[0].ttl == 30);
  CHECK(parsed->addresses[0].owner == "target.test");
}

TEST_CASE("a CNAME loop ends, and an answer to another question is rejected") {
  auto query_bytes = wire(3, "a.test.", LDNS_RR_TYPE_A, false);
  auto query = parse_query(query_bytes.data(), query_bytes.size());
  REQUIRE(query);
  auto loop = wire(3, "a.test.", LDNS_RR_TYPE_A, true, {"a.test. 60 IN CNAME b.test.", "b.test. 60 IN CNAME a.test."});
  auto parsed = parse_answer(loop.data(), loop.size(), *query);
  REQUIRE(parsed);
  CHECK(parsed->addresses.empty());
  auto other = wire(3, "b.test.", LDNS_RR_TYPE_A, true, {"b.test. 60 IN A 198.51.100.1"});
  CHECK_FALSE(parse_answer(other.data(), other.size(), *query).ok());
}

TEST_CASE("a refusal carries the question and an Extended DNS Error when the query had EDNS") {
  auto query_bytes = wire(42, "evil.test.", LDNS_RR_TYPE_A, false, {}, true);
  auto query = parse_query(query_bytes.data(), query_bytes.size());
  REQUIRE(query);
  auto bytes = refusal(*query, Refusal::refused, kEdeProhibited, "agentd: not allowed");
  ldns_pkt* pkt = nullptr;
  REQUIRE(ldns_wire2pkt(&pkt, bytes.data(), bytes.size()) == LDNS_STATUS_OK);
  CHECK(ldns_pkt_id(pkt) == 42);
  CHECK(ldns_pkt_get_rcode(pkt) == LDNS_RCODE_REFUSED);
  CHECK(ldns_pkt_qdcount(pkt) == 1);
  ldns_edns_option_list* options = ldns_pkt_edns_get_option_list(pkt);
  REQUIRE(options);
  REQUIRE(ldns_edns_option_list_get_count(options) == 1);
  ldns_edns_option* ede = ldns_edns_option_list_get_option(options, 0);
  CHECK(ldns_edns_get_code(ede) == LDNS_EDNS_EDE);
  const uint8_t* data = ldns_edns_get_data(ede);
  CHECK(((data[0] << 8) | data[1]) == kEdeProhibited);
  CHECK(std::string(reinterpret_cast<const char*>(data) + 2, ldns_edns_get_size(ede) - 2) == "agentd: not allowed");
  ldns_pkt_free(pkt);

  auto plain_bytes = wire(43, "evil.test.", LDNS_RR_TYPE_A, false);
  auto plain = parse_query(plain_bytes.data(), plain_bytes.size());
  auto nx = refusal(*plain, Refusal::nxdomain, kEdeBlocked, "x");
  REQUIRE(ldns_wire2pkt(&pkt, nx.data(), nx.size()) == LDNS_STATUS_OK);
  CHECK(ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN);
  CHECK_FALSE(ldns_pkt_edns(pkt));  // RFC 6891: no OPT to a query without one
  ldns_pkt_free(pkt);
}

TEST_CASE("a budget refusal is SERVFAIL with the budget named in the Extended DNS Error") {
  auto query_bytes = wire(44, "n1.many.example.test.", LDNS_RR_TYPE_A, false, {}, true);
  auto query = parse_query(query_bytes.data(), query_bytes.size());
  REQUIRE(query);
  auto bytes = refusal(*query, Refusal::servfail, kEdeOther, "agentd: acme/eng/a holds 8 learned addresses, its quota");
  ldns_pkt* pkt = nullptr;
  REQUIRE(ldns_wire2pkt(&pkt, bytes.data(), bytes.size()) == LDNS_STATUS_OK);
  CHECK(ldns_pkt_id(pkt) == 44);
  CHECK(ldns_pkt_get_rcode(pkt) == LDNS_RCODE_SERVFAIL);
  CHECK(ldns_pkt_ancount(pkt) == 0);
  ldns_edns_option_list* options = ldns_pkt_edns_get_option_list(pkt);
  REQUIRE(options);
  REQUIRE(ldns_edns_option_list_get_count(options) == 1);
  ldns_edns_option* ede = ldns_edns_option_list_get_option(options, 0);
  const uint8_t* data = ldns_edns_get_data(ede);
  CHECK(((data[0] << 8) | data[1]) == kEdeOther);
  CHECK(std::string(reinterpret_cast<const char*>(data) + 2, ldns_edns_get_size(ede) - 2).find("its quota") !=
        std::string::npos);
  ldns_pkt_free(pkt);
}

TEST_CASE("a truncated response tells the resolver to ask over TCP, and carries no records") {
  auto query_bytes = wire(77, "big.example.test.", LDNS_RR_TYPE_A, false);
  auto query = parse_query(query_bytes.data(), query_bytes.size());
  REQUIRE(query);
  auto bytes = truncated_response(*query);
  ldns_pkt* pkt = nullptr;
  REQUIRE(ldns_wire2pkt(&pkt, bytes.data(), bytes.size()) == LDNS_STATUS_OK);
  CHECK(ldns_pkt_id(pkt) == 77);
  CHECK(ldns_pkt_qr(pkt));
  CHECK(ldns_pkt_tc(pkt));
  CHECK(ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR);
  CHECK(ldns_pkt_qdcount(pkt) == 1);
  CHECK(ldns_pkt_ancount(pkt) == 0);
  CHECK_FALSE(ldns_pkt_edns(pkt));
  ldns_pkt_free(pkt);
  CHECK(bytes.size() <= 512);
}

TEST_CASE("addresses refused for rebinding are cut from the answer") {
  auto query_bytes = wire(5, "meta.test.", LDNS_RR_TYPE_A, false);
  auto query = parse_query(query_bytes.data(), query_bytes.size());
  auto answer = wire(5, "meta.test.", LDNS_RR_TYPE_A, true,
                     {"meta.test. 60 IN A 169.254.169.254", "meta.test. 60 IN A 198.51.100.9"});
  auto parsed = parse_answer(answer.data(), answer.size(), *query);
  REQUIRE(parsed);
  REQUIRE(parsed->addresses.size() == 2);
  const auto ranges = ProtectedRanges::defaults();
  CHECK(ranges.covering(parsed->addresses[0], {}) == "169.254.0.0/16");
  CHECK(ranges.covering(parsed->addresses[1], {}).empty());
  auto cut = without_addresses(answer.data(), answer.size(), {parsed->addresses[0]});
  REQUIRE(cut);
  auto again = parse_answer(cut->data(), cut->size(), *query);
  REQUIRE(again);
  REQUIRE(again->addresses.size() == 1);
  CHECK(again->addresses[0].addr[0] == 198);
  CHECK(ProtectedRanges::parse("10.0.0.0/8,bogus").error().describe().find("\"bogus\"") != std::string::npos);
}

TEST_CASE("random bytes and mutated messages never crash the parser") {
  std::mt19937 random(1234);  // NOLINT(cert-msc51-cpp): a fixed seed, so that a failure reproduces
  auto base = wire(1, "a.b.test.", LDNS_RR_TYPE_A, true, {"a.b.test. 60 IN CNAME c.test.", "c.test. 60 IN A 1.2.3.4"});
  auto query_bytes = wire(1, "a.b.test.", LDNS_RR_TYPE_A, false);
  auto query = parse_query(query_bytes.data(), query_bytes.size());
  REQUIRE(query);
  for (int i = 0; i < 20000; ++i) {
    Bytes m = base;
    for (int flips = 1 + static_cast<int>(random() % 4); flips > 0; --flips)
      m[random() % m.size()] = static_cast<uint8_t>(random());
    if (random() % 3 == 0) m.resize(random() % m.size());
    (void)parse_query(m.data(), m.size());
    (void)parse_answer(m.data(), m.size(), *query);
    (void)without_addresses(m.data(), m.size(), {});
  }
  SUCCEED("20000 mutated messages handled");
}
