// What leaves for the upstream resolver: a query rebuilt from what was
// judged, never the sandbox's bytes, and only answers that echo it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>

#include "agentd/dns/message.hpp"

// Last: ldns's headers define `bool` as a macro, which the C++ headers must not see.
#include <ldns/ldns.h>

using namespace agentd::dns;

namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

Pkt new_query(const std::string& qname, ldns_rr_type type, ldns_rr_class klass = LDNS_RR_CLASS_IN) {
  return Pkt(ldns_pkt_query_new(ldns_dname_new_frm_str(qname.c_str()), type, klass, LDNS_RD));
}

void push(ldns_pkt* pkt, ldns_pkt_section section, const std::string& text) {
  ldns_rr* rr = nullptr;
  REQUIRE(ldns_rr_new_frm_str(&rr, text.c_str(), 300, nullptr, nullptr) == LDNS_STATUS_OK);
  ldns_pkt_push_rr(pkt, section, rr);
}

Bytes to_bytes(ldns_pkt* pkt) {
  uint8_t* data = nullptr;
  size_t size = 0;
  REQUIRE(ldns_pkt2wire(&data, pkt, &size) == LDNS_STATUS_OK);
  Bytes bytes(data, data + size);
  free(data);
  return bytes;
}

Pkt from_bytes(const Bytes& bytes) {
  ldns_pkt* pkt = nullptr;
  REQUIRE(ldns_wire2pkt(&pkt, bytes.data(), bytes.size()) == LDNS_STATUS_OK);
  return Pkt(pkt);
}

bool holds(const Bytes& haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

// A query as a hostile sandbox would send it: mixed case (0x20 bits), CD
// and AD set, a large EDNS size, client subnet, cookie and padding
// options, an authority and an additional record.
Bytes hostile_query() {
  Pkt pkt = new_query("WwW.Example.TEST.", LDNS_RR_TYPE_A);
  ldns_pkt_set_id(pkt.get(), 0x1234);
  ldns_pkt_set_cd(pkt.get(), true);
  ldns_pkt_set_ad(pkt.get(), true);
  ldns_pkt_set_edns_udp_size(pkt.get(), 4096);
  ldns_pkt_set_edns_do(pkt.get(), true);
  ldns_edns_option_list* options = ldns_edns_option_list_new();
  const std::string subnet("\x00\x01\x18\x00\xc6\x33\x64", 7);  // 198.51.100.0/24
  ldns_edns_option_list_push(options, ldns_edns_new_from_data(LDNS_EDNS_CLIENT_SUBNET, subnet.size(), subnet.data()));
  const std::string cookie = "COOKIE01";
  ldns_edns_option_list_push(options, ldns_edns_new_from_data(LDNS_EDNS_COOKIE, cookie.size(), cookie.data()));
  const std::string padding = "SECRET-IN-PADDING";
  ldns_edns_option_list_push(options, ldns_edns_new_from_data(LDNS_EDNS_PADDING, padding.size(), padding.data()));
  ldns_pkt_set_edns_option_list(pkt.get(), options);
  push(pkt.get(), LDNS_SECTION_AUTHORITY, "test. 300 IN NS ns.smuggled.test.");
  push(pkt.get(), LDNS_SECTION_ADDITIONAL, "extra.smuggled.test. 300 IN A 192.0.2.1");
  return to_bytes(pkt.get());
}

}  // namespace

TEST_CASE("the upstream query is rebuilt: one question, our EDNS size, the DO bit, nothing else") {
  const Bytes sent = hostile_query();
  REQUIRE(holds(sent, "SECRET-IN-PADDING"));  // the attack is really in there
  auto query = parse_query(sent.data(), sent.size());
  REQUIRE(query);
  CHECK(query->dnssec_ok);
  auto rebuilt = upstream_query(*query, 0xbeef);
  REQUIRE(rebuilt);
  Pkt pkt = from_bytes(*rebuilt);
  CHECK(ldns_pkt_id(pkt.get()) == 0xbeef);
  CHECK_FALSE(ldns_pkt_qr(pkt.get()));
  CHECK(ldns_pkt_get_opcode(pkt.get()) == LDNS_PACKET_QUERY);
  CHECK(ldns_pkt_rd(pkt.get()));
  CHECK_FALSE(ldns_pkt_cd(pkt.get()));
  CHECK_FALSE(ldns_pkt_ad(pkt.get()));
  REQUIRE(ldns_pkt_qdcount(pkt.get()) == 1);
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0);
  char* name = ldns_rdf2str(ldns_rr_owner(question));
  CHECK(std::string(name) == "www.example.test.");  // letter case carries nothing upstream
  free(name);
  CHECK(ldns_rr_get_type(question) == LDNS_RR_TYPE_A);
  CHECK(ldns_rr_get_class(question) == LDNS_RR_CLASS_IN);
  CHECK(ldns_pkt_ancount(pkt.get()) == 0);
  CHECK(ldns_pkt_nscount(pkt.get()) == 0);
  CHECK(ldns_pkt_arcount(pkt.get()) == 0);  // ldns counts the OPT record apart
  REQUIRE(ldns_pkt_edns(pkt.get()));
  CHECK(ldns_pkt_edns_udp_size(pkt.get()) == 1232);
  CHECK(ldns_pkt_edns_do(pkt.get()));
  ldns_edns_option_list* options = ldns_pkt_edns_get_option_list(pkt.get());
  CHECK((!options || ldns_edns_option_list_get_count(options) == 0));
  CHECK_FALSE(holds(*rebuilt, "SECRET-IN-PADDING"));
  CHECK_FALSE(holds(*rebuilt, "COOKIE01"));
  CHECK_FALSE(holds(*rebuilt, "smuggled"));
  // Header, "www.example.test" (18 bytes), type and class, an empty OPT.
  CHECK(rebuilt->size() == 12 + 18 + 4 + 11);
}

TEST_CASE("a query without EDNS goes upstream without EDNS, RD as the sandbox set it") {
  Pkt pkt = new_query("pypi.org.", LDNS_RR_TYPE_AAAA);
  ldns_pkt_set_rd(pkt.get(), false);
  const Bytes sent = to_bytes(pkt.get());
  auto query = parse_query(sent.data(), sent.size());
  REQUIRE(query);
  auto rebuilt = upstream_query(*query, 7);
  REQUIRE(rebuilt);
  Pkt out = from_bytes(*rebuilt);
  CHECK_FALSE(ldns_pkt_edns(out.get()));
  CHECK_FALSE(ldns_pkt_rd(out.get()));
  CHECK(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(out.get()), 0)) == LDNS_RR_TYPE_AAAA);
}

TEST_CASE("only class IN and the usual types are forwarded") {
  for (auto type :
       {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_HTTPS, LDNS_RR_TYPE_SVCB, LDNS_RR_TYPE_MX,
        LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_SRV, LDNS_RR_TYPE_PTR, LDNS_RR_TYPE_NS, LDNS_RR_TYPE_SOA, LDNS_RR_TYPE_CAA}) {
    Query query;
    query.qtype = type;
    query.qclass = LDNS_RR_CLASS_IN;
    INFO(type_name(type));
    CHECK(not_forwarded(query).empty());
  }
  for (auto type : {LDNS_RR_TYPE_ANY, LDNS_RR_TYPE_AXFR, LDNS_RR_TYPE_IXFR, LDNS_RR_TYPE_NULL, LDNS_RR_TYPE_OPT,
                    LDNS_RR_TYPE_TKEY, static_cast<ldns_enum_rr_type>(65280)}) {
    Query query;
    query.qtype = type;
    query.qclass = LDNS_RR_CLASS_IN;
    INFO(type_name(type));
    CHECK(not_forwarded(query).find("is not forwarded") != std::string::npos);
  }
  Query chaos;
  chaos.qtype = LDNS_RR_TYPE_TXT;
  chaos.qclass = LDNS_RR_CLASS_CH;  // version.bind and friends
  CHECK(not_forwarded(chaos) == "class 3 is not forwarded (only IN)");
  CHECK_FALSE(upstream_query(chaos, 1).ok());  // never built, whoever asks
  Query zero;
  zero.qclass = LDNS_RR_CLASS_IN;  // type 0, which ldns would make A
  CHECK_FALSE(upstream_query(zero, 1).ok());
}

TEST_CASE("an upstream answer counts only with our id and the question echoed") {
  Pkt q = new_query("api.example.test.", LDNS_RR_TYPE_A);
  const Bytes sent = to_bytes(q.get());
  auto query = parse_query(sent.data(), sent.size());
  REQUIRE(query);
  auto answer = [](const std::string& name, ldns_rr_type type, uint16_t id, bool response = true,
                   ldns_rr_class klass = LDNS_RR_CLASS_IN) {
    Pkt pkt = new_query(name, type, klass);
    ldns_pkt_set_id(pkt.get(), id);
    ldns_pkt_set_qr(pkt.get(), response);
    push(pkt.get(), LDNS_SECTION_ANSWER, name + " 300 IN A 198.51.100.10");
    return to_bytes(pkt.get());
  };
  const Bytes good = answer("API.example.test.", LDNS_RR_TYPE_A, 0x4242);
  CHECK(answers(good.data(), good.size(), *query, 0x4242));
  const Bytes other_id = answer("api.example.test.", LDNS_RR_TYPE_A, 0x4243);
  CHECK_FALSE(answers(other_id.data(), other_id.size(), *query, 0x4242));
  const Bytes other_name = answer("evil.example.test.", LDNS_RR_TYPE_A, 0x4242);
  CHECK_FALSE(answers(other_name.data(), other_name.size(), *query, 0x4242));
  const Bytes other_type = answer("api.example.test.", LDNS_RR_TYPE_AAAA, 0x4242);
  CHECK_FALSE(answers(other_type.data(), other_type.size(), *query, 0x4242));
  const Bytes other_class = answer("api.example.test.", LDNS_RR_TYPE_A, 0x4242, true, LDNS_RR_CLASS_CH);
  CHECK_FALSE(answers(other_class.data(), other_class.size(), *query, 0x4242));
  const Bytes not_a_response = answer("api.example.test.", LDNS_RR_TYPE_A, 0x4242, false);
  CHECK_FALSE(answers(not_a_response.data(), not_a_response.size(), *query, 0x4242));
  const Bytes cut(good.begin(), good.begin() + 14);
  CHECK_FALSE(answers(cut.data(), cut.size(), *query, 0x4242));
}

TEST_CASE("odd names survive the rebuild: escapes, binary bytes, the root") {
  // Labels as raw bytes: a dot inside a label, a NUL, high bytes, upper case.
  const std::vector<std::string> labels_list[] = {
      {"a.b", "test"}, {std::string("x\0y", 3), "test"}, {"\xff\xfe", "Example"}, {"*", "test"}, {"\\", "\""}, {}};
  for (const auto& labels : labels_list) {
    Bytes wire;
    for (const auto& label : labels) {
      wire.push_back(static_cast<uint8_t>(label.size()));
      wire.insert(wire.end(), label.begin(), label.end());
    }
    wire.push_back(0);
    Bytes message = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    message.insert(message.end(), wire.begin(), wire.end());
    message.insert(message.end(), {0, 1, 0, 1});
    auto query = parse_query(message.data(), message.size());
    REQUIRE(query);
    INFO(query->name);
    auto rebuilt = upstream_query(*query, 9);
    REQUIRE(rebuilt);
    auto again = parse_query(rebuilt->data(), rebuilt->size());
    REQUIRE(again);
    CHECK(again->name == query->name);
    CHECK(answers(rebuilt->data(), rebuilt->size(), *query, 9) == false);  // a query is no answer
    Bytes echoed = *rebuilt;
    echoed[2] |= 0x80;
    CHECK(answers(echoed.data(), echoed.size(), *query, 9));
  }
}
