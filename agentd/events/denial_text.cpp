#include "agentd/events/denial_text.hpp"

#include <fmt/format.h>

#include "agentd/common/safe_text.hpp"

namespace agentd::events {
namespace {

// As agentctl writes an address and port: IPv6 in brackets.
std::string endpoint(const std::string& address, uint16_t port) {
  return address.find(':') != std::string::npos ? fmt::format("[{}]:{}", address, port)
                                                : fmt::format("{}:{}", address, port);
}

std::string what_was_denied(const Denial& d, const std::string& sandbox) {
  if (d.hook == DenialHook::dns) {
    const std::string asked = d.query ? d.query->qtype : "";
    const std::string transport = d.query && !d.query->transport.empty() ? "/" + d.query->transport : "";
    return fmt::format("{} may not resolve {} ({}{})", sandbox, d.name.value_or(""), asked, transport);
  }
  if (d.socket && d.hook == DenialHook::setsockopt)
    return fmt::format("{}: socket option {} on a {}/{} socket", sandbox, d.socket->option, d.family, d.socket->type);
  if (d.socket)
    return fmt::format("{}: a {}/{} socket (protocol {})", sandbox, d.family, d.socket->type, d.socket->protocol);
  if (!d.destination) return sandbox;
  const auto& to = *d.destination;
  std::string line = d.inbound() ? fmt::format("{} <- {} to port {}/{}", sandbox, to.address, to.port, to.protocol)
                                 : fmt::format("{} -> {}/{}", sandbox, endpoint(to.address, to.port), to.protocol);
  if (d.host) line += fmt::format(" ({})", *d.host);
  if (d.name) line += fmt::format(", carrying the name {}", *d.name);
  if (d.header) line += fmt::format(", carrying {}", *d.header);
  return line;
}

}  // namespace

std::string denial_text(const Denial& d) {
  std::string line = fmt::format("{}: denied ({}, {})", what_was_denied(d, d.sandbox.value_or("(no sandbox)")),
                                 to_string(d.reason), to_string(d.hook));
  if (d.rule && !d.rule->empty()) line += fmt::format("; rule {}", *d.rule);
  if (d.process) line += fmt::format("; by {} (pid {}, uid {})", d.process->comm, d.process->tgid, d.process->uid);
  if (d.suppressed_before) line += fmt::format("; {} more held back before", d.suppressed_before);
  if (d.held_before) line += fmt::format("; {} other records held back", d.held_before);
  return terminal_text(line);
}

}  // namespace agentd::events
