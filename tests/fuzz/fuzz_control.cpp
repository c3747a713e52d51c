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
  const auto who = h.root();
  auto& service = h.service();
  const std::string method = request.is_object() && request.contains("method") && request["method"].is_string()
                                 ? request["method"].get<std::string>()
                                 : "";
  Result<json> result = make_error("no such method");
  if (method == "approvals.list")
    result = service.list_requests(request, who);
  else if (method == "approvals.folds")
    result = service.list_folds(request, who);
  else if (method == "approvals.approve" || method == "approvals.deny")
    result = service.answer(request, who, method == "approvals.approve");
  else if (method == "approvals.reopen")
    result = service.reopen(request, who);
  else if (method == "grants.list")
    result = service.list_grants(who);
  else if (method == "grants.add")
    result = service.add_grant(request, who);
  else if (method == "grants.revoke")
    result = service.revoke(request, who);
  else if (method == "audit.query")
    result = service.query_audit(request, who);
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
