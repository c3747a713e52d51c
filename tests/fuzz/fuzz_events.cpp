// Fuzz target for the path a denial record takes, fed what a sandbox
// controls: arbitrary bytes as the kernel's ring sample, decoded as the
// daemon's ring callback does (agentd_deny_event, its comm among them; a
// name check's name and claimed length), followed by an executable path
// and a host name (split at the first NUL). Record -> typed denial -> JSON (and back), OCSF, audit row, terminal line
// -> approvals book -> store (in-memory SQLite) and back -> request and grant JSON -> terminal text. Every JSON text
// must be valid UTF-8, dump without throwing and parse back to the same value; terminal text must be one line without
// controls. Built with libFuzzer by scripts/fuzz; with a replay main in
// every build (events_replay).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agentd/approvals/book.hpp"
#include "agentd/approvals/ocsf.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/events/denial_json.hpp"
#include "agentd/events/denial_record.hpp"
#include "agentd/events/denial_text.hpp"
#include "agentd/events/ring_sample.hpp"
#include "agentd/store/denial_row.hpp"
#include "agentd/store/store.hpp"

using namespace agentd;
using nlohmann::json;

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_events: %s\n", what);
  std::abort();
}

// The plain dump(), which throws on invalid UTF-8: it must not, here.
void check_json(const json& value) {
  const std::string text = value.dump();
  require(is_valid_utf8(text), "JSON text is not valid UTF-8");
  require(json::parse(text) == value, "JSON does not parse back to itself");
}

void check_terminal(const std::string& text) {
  const std::string shown = terminal_text(text);
  require(is_valid_utf8(shown), "terminal text is not valid UTF-8");
  for (unsigned char c : shown) require(c >= 0x20 && c != 0x7f, "terminal text holds a control byte");
}

// A fresh in-memory store now and then: it must not grow without end.
store::Store& the_store() {
  static std::unique_ptr<store::Store> store;
  static int uses = 0;
  if (!store || ++uses % 200 == 0) {
    store.reset();
    auto opened = store::Store::open(":memory:", store::Retention{});
    require(opened.ok(), "cannot open an in-memory store");
    store = std::move(*opened);
  }
  return *store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The bytes as the ring callback reads them (a name check's name and its
  // claimed length included); what is too short is skipped there too.
  const auto sample = events::decode_ring_sample(data, size);
  if (!sample) return 0;
  const agentd_deny_event& event = sample->event;
  const size_t record_size = event.hook == AGENTD_HOOK_NAME_CHECK && size >= sizeof(agentd_name_event)
                                 ? sizeof(agentd_name_event)
                                 : sizeof(agentd_deny_event);
  std::string_view rest;
  if (size > record_size) rest = {reinterpret_cast<const char*>(data) + record_size, size - record_size};
  const size_t nul = rest.find('\0');
  const std::string exe(rest.substr(0, nul));
  const std::string host(nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1));

  // The kernel's record, as the daemon turns it into JSON.
  events::DenialContext context;
  context.sandbox = "acme/eng/coder-1";
  context.time = approvals::Clock::now();
  if (!host.empty()) context.host = host;
  if (event.reason == AGENTD_REASON_DENY_RULE) context.rule = host;
  if (!sample->name.empty()) context.name = events::unreversed_name(sample->name);
  const events::Denial denial_record = events::denial_of(event, context);
  const json record = events::denial_json(denial_record);
  check_json(record);
  // The JSON line reads back as the record it was made from.
  const auto read_back = events::parse_denial(record);
  require(read_back.ok(), "a denial's JSON line does not parse back");
  require(*read_back == denial_record, "a denial's JSON line parses back to another record");
  check_json(approvals::ocsf_denial(denial_record));
  check_terminal(events::denial_text(denial_record));
  // A refused name, as the DNS proxy reports it.
  events::Denial dns_record;
  dns_record.hook = events::DenialHook::dns;
  dns_record.time = denial_record.time;
  dns_record.sandbox = "acme/eng/coder-1";
  dns_record.name = safe_text(host);
  dns_record.query = events::DenialQuery{"A", "udp"};
  check_json(events::denial_json(dns_record));
  check_json(approvals::ocsf_denial(dns_record));

  // The approvals book and the store, as the approval service feeds them.
  static approvals::Book book;
  const policy::ApprovalSettings settings;
  const store::AuditEvent audit = store::denial_row(denial_record);
  approvals::Denial denial;
  denial.target = {"acme/eng/coder-1", audit.dest, audit.port, audit.protocol, "", denial_record.inbound()};
  denial.host = audit.host;
  denial.process = {event.tgid, event.uid, denial_record.process->comm, safe_text(exe)};
  denial.time = denial_record.time;
  denial.count = 1 + denial_record.suppressed_before;
  store::Store& store = the_store();
  require(store.audit(audit).ok(), "the store refused an audit event");
  auto noted = book.note_denial(denial, settings);
  if (noted.request) {
    check_json(approvals::request_to_json(*noted.request));
    require(store.save_request(*noted.request).ok(), "the store refused a request");
    approvals::Decision allow;
    allow.allow = true;
    if (auto answered = book.decide(noted.request->id, allow, "fuzz (uid 0)", denial.time, settings)) {
      check_json(approvals::request_to_json(answered->request));
      check_json(approvals::ocsf_decision(answered->request, answered->grant));
      if (answered->grant) {
        check_json(approvals::grant_to_json(*answered->grant));
        require(store.save_grant(*answered->grant).ok(), "the store refused a grant");
        // Revoked at once, so that reading the live grants back stays cheap.
        require(store.end_grant(answered->grant->id, "revoked", denial.time).ok(), "the store refused to end a grant");
        (void)book.revoke(answered->grant->id);
      }
    }
  }
  // What the store gives back is what a restarted agentd and agentctl read.
  store::AuditQuery latest;
  latest.limit = 4;  // this input's rows; the whole table would make each run slower than the last
  auto audit_rows = store.query_audit(latest);
  require(audit_rows.ok(), "the audit query failed");
  check_json(*audit_rows);
  auto grants = store.live_grants();
  require(grants.ok(), "reading grants back failed");
  for (const auto& g : *grants) check_json(approvals::grant_to_json(g));

  // And what agentctl shows of it.
  check_terminal(denial_record.process->comm);
  check_terminal(denial.process.exe);
  check_terminal(host);
  check_terminal(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
