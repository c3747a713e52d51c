// Fuzz target for the DNS handling the proxy does on what a sandbox (or an
// upstream) sends: parse a query, build its refusal and its truncated
// answer, rebuild it for the upstream, match answers, parse an answer to
// a fixed question along its CNAME chain, cut addresses out, answer errors.
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
    // The upstream query is rebuilt from the parsed name: it must read
    // back as the same question, and its echo must match.
    (void)not_forwarded(*query);
    if (auto upstream = upstream_query(*query, 0x4242)) {
      auto again = parse_query(upstream->data(), upstream->size());
      if (!again || again->name != query->name || again->qtype != query->qtype) __builtin_trap();
    }
    (void)answers(data, size, *query, 0x1234);
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
