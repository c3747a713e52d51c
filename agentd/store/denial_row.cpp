#include "agentd/store/denial_row.hpp"

namespace agentd::store {

AuditEvent denial_row(const events::Denial& d) {
  using events::DenialHook;
  const bool dns = d.hook == DenialHook::dns;
  AuditEvent row;
  row.time = d.time;
  row.kind = "denial";
  row.decision = "deny";
  row.actor = dns ? "dns" : "kernel";
  row.sandbox = d.sandbox.value_or("");
  // Inbound: the peer that tried to come in.
  row.dest = d.destination ? d.destination->address : "";
  row.host = (dns ? d.name : d.host).value_or("");
  row.port = d.destination ? d.destination->port : 0;
  row.protocol = events::protocol_text(d);
  const events::DenialProcess process = d.process.value_or(events::DenialProcess{});
  row.detail = {{"reason", events::to_string(d.reason)},
                {"hook", events::to_string(d.hook)},
                {"comm", process.comm},
                {"pid", process.tgid},
                {"uid", process.uid}};
  if (d.rule && !d.rule->empty()) row.detail["rule"] = *d.rule;
  if (d.inbound()) row.detail["direction"] = "inbound";
  // What the route walls refused.
  if (d.socket && !d.socket->option.empty()) row.detail["option"] = d.socket->option;
  if (d.header && !d.header->empty()) row.detail["header"] = *d.header;
  if (d.suppressed_before) row.detail["suppressed_before"] = d.suppressed_before;
  if (d.held_before) row.detail["held_before"] = d.held_before;
  return row;
}

}  // namespace agentd::store
