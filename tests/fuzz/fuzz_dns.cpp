// Fuzz target for the DNS handling the proxy does on what a sandbox (or an
// upstream) sends: parse a query, build its refusal and its truncated
// answer, parse an answer to a fixed question along its CNAME chain, cut
// addresses out, answer errors.
// Built with libFuzzer by scripts/fuzz; built with a replay main in every
// build (dns_replay) so the harness itself never rots.
#include <cstddef>
#include <cstdint>

#include "agentd/dns/message.hpp"

using namespace agentd::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (auto query = parse_query(data, size)) {
    (void)refusal(*query, Refusal::refused, kEdeProhibited, "fuzz");
    (void)refusal(*query, Refusal::nxdomain, kEdeBlocked, std::string(300, 'x'));
    (void)truncated_response(*query);
    if (auto answer = parse_answer(data, size, *query)) (void)without_addresses(data, size, answer->addresses);
  }
  Query fixed;
  fixed.name = "a.example.test";
  fixed.qtype = 1;
  if (auto answer = parse_answer(data, size, fixed)) (void)without_addresses(data, size, answer->addresses);
  (void)error_response(data, size, 1);
  (void)with_id(data, size, 0x1234);
  (void)message_id(data, size);
  return 0;
}
