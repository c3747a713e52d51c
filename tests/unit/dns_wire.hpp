// DNS messages for unit tests: built by ldns from zone-file lines, handed
// over as wire bytes. Include last: ldns's headers define `bool` as a
// macro, which the C++ headers must not see first.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "agentd/dns/message.hpp"

#include <ldns/ldns.h>

namespace agentd::testing {

inline dns::Bytes wire(uint16_t id, const std::string& qname, ldns_rr_type type, bool response,
                       const std::vector<std::string>& answers = {}, bool edns = false) {
  ldns_pkt* pkt = nullptr;
  ldns_rdf* name = ldns_dname_new_frm_str(qname.c_str());
  pkt = ldns_pkt_query_new(name, type, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_id(pkt, id);
  ldns_pkt_set_qr(pkt, response);
  for (const auto& text : answers) {
    ldns_rr* rr = nullptr;
    REQUIRE(ldns_rr_new_frm_str(&rr, text.c_str(), 300, nullptr, nullptr) == LDNS_STATUS_OK);
    ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
  }
  if (edns) ldns_pkt_set_edns_udp_size(pkt, 1232);
  uint8_t* data = nullptr;
  size_t size = 0;
  REQUIRE(ldns_pkt2wire(&data, pkt, &size) == LDNS_STATUS_OK);
  dns::Bytes bytes(data, data + size);
  free(data);
  ldns_pkt_free(pkt);
  return bytes;
}

}  // namespace agentd::testing
