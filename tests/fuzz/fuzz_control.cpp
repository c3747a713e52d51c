// Fuzz target for the control requests the approvals serve (approvals.*,
// grants.*, audit.query): arbitrary bytes as one JSON request or an array
// of up to 16, run in order by root against ApprovalService on the
// kernel's maps kept in memory (tests/unit/approval_harness.hpp), with two
// pending requests to answer. Callers are authorised, but their requests
// are still input: each call answers a result or an error that says why,
// never throws or crashes; and whatever the calls did to the grants, the
// kernel's grant entries are what a restart derives from the store alone.
// Built with libFuzzer by scripts/fuzz; with a replay main in every build
// (control_replay).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "approval_harness.hpp"

using namespace agentd;
using agentd::testing::ApprovalHarness;
using nlohmann::json;

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_control: %s\n", what);
  std::abort();
}

void call(ApprovalHarness& h, const json& request) {
  // Read as agentd reads it (its typed request), then served: a refusal
  // at either step is an answer.
  Result<json> result = h.call(request);
  if (result)
    (void)result->dump(-1, ' ', false, json::error_handler_t::strict);  // throws on invalid UTF-8
  else
    require(!result.error().describe().empty(), "a refusal that says nothing");
}

// The grant entries as (slot, family, address) -> port ranges: their
// deadlines are recomputed from the clock at each sync.
std::map<agentd::testing::MemoryMaps::AddressKey, std::string> grant_ports(const agentd::testing::MemoryMaps& maps) {
  std::map<agentd::testing::MemoryMaps::AddressKey, std::string> ports;
  for (const auto& [key, value] : maps.grant_entries)
    ports[key] = std::string(reinterpret_cast<const char*>(&value.rules), sizeof(value.rules));
  return ports;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const json input = json::parse(data, data + size, nullptr, false);
  if (input.is_discarded()) return 0;
  std::vector<json> requests;
  if (input.is_array()) {
    for (const auto& r : input)
      if (requests.size() < 16) requests.push_back(r);
  } else {
    requests.push_back(input);
  }
  ApprovalHarness h({"acme/eng/coder-1", "acme/eng/coder-2", "acme/ops/runner"});
  h.service().on_denial(ApprovalHarness::refused_connect("acme/eng/coder-1", "198.51.100.20", 8080));
  h.service().on_denial(ApprovalHarness::refused_connect("acme/ops/runner", "198.51.100.21", 443));
  for (const auto& request : requests) call(h, request);

  const auto before = grant_ports(h.maps());
  h.maps().grant_entries.clear();
  h.restart();
  require(grant_ports(h.maps()) == before, "the kernel's grants differ from what the store says");
  return 0;
}
