// The typed denial (events/denial.hpp) and its views: the JSON line read
// back to the same record, every hook and reason by name, OCSF, the audit
// row and the terminal line from a record, and bad JSON refused with an
// error that names what is wrong.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "agentd/approvals/ocsf.hpp"
#include "agentd/events/denial_json.hpp"
#include "agentd/events/denial_text.hpp"
#include "agentd/store/denial_row.hpp"

using namespace agentd::events;
using nlohmann::json;

namespace {

Denial connect_denial() {
  Denial d;
  d.hook = DenialHook::connect4;
  d.reason = DenialReason::deny_rule;
  d.time = *parse_time("2024-05-01T12:00:00.250Z");
  d.sandbox = "acme/eng/coder-1";
  d.process = DenialProcess{42, 41, 1000, 1000, "curl", 7};
  d.family = "inet";
  d.destination = DenialDestination{"198.51.100.66", 443, "tcp"};
  d.host = "api.example.test";
  d.rule = "acme.yaml:14:9 rules[0].deny[0]";
  d.suppressed_before = 3;
  return d;
}

Denial dns_denial() {
  Denial d;
  d.hook = DenialHook::dns;
  d.reason = DenialReason::no_rule;
  d.time = *parse_time("2024-05-01T12:00:01.000Z");
  d.sandbox = "acme/eng/coder-1";
  d.name = "evil.example";
  d.query = DenialQuery{"A", "udp"};
  d.rule = "no rule allows evil.example";
  return d;
}

Denial socket_denial() {
  Denial d;
  d.hook = DenialHook::sock_create;
  d.reason = DenialReason::socket_type;
  d.time = *parse_time("2024-05-01T12:00:02.000Z");
  d.process = DenialProcess{5, 5, 0, 0, "ping", 7};
  d.family = "packet";
  d.socket = DenialSocket{"raw", 3, ""};
  return d;
}

Denial option_denial() {
  Denial d = socket_denial();
  d.hook = DenialHook::setsockopt;
  d.reason = DenialReason::route_option;
  d.family = "inet6";
  d.socket = DenialSocket{"dgram", 17, "IPV6_RTHDR"};
  return d;
}

Denial inbound_denial() {
  Denial d = connect_denial();
  d.hook = DenialHook::packet_ingress;
  d.reason = DenialReason::no_rule;
  d.destination = DenialDestination{"203.0.113.9", 8080, "tcp"};
  d.host.reset();
  d.rule.reset();
  d.suppressed_before = 0;
  d.held_before = 12;
  return d;
}

Denial read_back(const Denial& d) {
  auto parsed = parse_denial(json::parse(denial_json(d).dump()));
  if (!parsed) FAIL(parsed.error().describe());
  return *parsed;
}

std::string refusal(const json& record) {
  auto parsed = parse_denial(record);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error().describe();
}

}  // namespace

TEST_CASE("a typed denial goes to its JSON line and back unchanged, for every shape a hook gives it") {
  for (const Denial& d : {connect_denial(), dns_denial(), socket_denial(), option_denial(), inbound_denial()}) {
    INFO(denial_json(d).dump());
    CHECK(read_back(d) == d);
  }
  // And through nlohmann's own conversions.
  const json j = dns_denial();
  CHECK(j.get<Denial>() == dns_denial());
}

TEST_CASE("the JSON line keeps the wire's keys for each hook") {
  const json connect = denial_json(connect_denial());
  CHECK(connect["type"] == "deny");
  CHECK(connect["time"] == "2024-05-01T12:00:00.250Z");
  CHECK(connect["dest"] == "198.51.100.66");
  CHECK(connect["suppressed_before"] == 3);
  CHECK_FALSE(connect.contains("held_before"));
  CHECK_FALSE(connect.contains("qtype"));

  const json dns = denial_json(dns_denial());
  CHECK(dns["hook"] == "dns");
  CHECK(dns["protocol"] == "udp");
  CHECK(dns["qtype"] == "A");
  CHECK_FALSE(dns.contains("pid"));
  CHECK_FALSE(dns.contains("family"));

  const json socket = denial_json(socket_denial());
  CHECK(socket["protocol"] == 3);  // a refused socket's protocol is its number
  CHECK(socket["sandbox"].is_null());
  CHECK_FALSE(socket.contains("dest"));

  const json option = denial_json(option_denial());
  CHECK(option["protocol"] == "udp");
  CHECK(option["option"] == "IPV6_RTHDR");

  const json inbound = denial_json(inbound_denial());
  CHECK(inbound["direction"] == "inbound");
  CHECK(inbound["source"] == "203.0.113.9");
  CHECK_FALSE(inbound.contains("dest"));
  CHECK(inbound["held_before"] == 12);
}

TEST_CASE("every denial reason and hook has one name, read back to itself") {
  // The wire's words: e2e tests, agentctl and SIEM rules match on them.
  const std::set<std::string> reason_names = {
      "no_rule",      "deny_rule",      "unknown_cgroup", "socket_type",      "dns_expired", "dns_unsupported",
      "proxy_spoof",  "route_option",   "route_header",   "name_not_allowed", "name_denied", "no_name",
      "ech",          "unparsable",     "nameless",       "unverified_data",  "quic",        "dns_netns",
      "host_address", "foreign_source", "query_type",     "no_upstream",      "unlearnable", "rebinding",
      "learned_quota"};
  const std::set<std::string> hook_names = {"connect4",      "connect6",       "sendmsg4",   "sendmsg6",
                                            "sock_create",   "bind4",          "bind6",      "setsockopt",
                                            "packet_egress", "packet_ingress", "name_check", "dns"};
  // Every value the enums can hold: the named ones are exactly the wire's
  // words, and every value, named or a bare kernel code, reads back as itself.
  std::set<std::string> named_reasons, named_hooks;
  for (unsigned code = 0; code <= 0x1ff; ++code) {
    const auto reason = static_cast<DenialReason>(code);
    const std::string reason_text = to_string(reason);
    if (!reason_text.starts_with("reason")) named_reasons.insert(reason_text);
    const auto hook = static_cast<DenialHook>(code);
    const std::string hook_text = to_string(hook);
    if (!hook_text.starts_with("hook")) named_hooks.insert(hook_text);
    if (code > 0xff && reason_text.starts_with("reason")) continue;  // past a kernel code: no value
    CHECK(parse_reason(reason_text) == reason);
    if (code <= 0xff || !hook_text.starts_with("hook")) CHECK(parse_hook(hook_text) == hook);
    // And through a whole record's JSON line.
    Denial d = connect_denial();
    d.reason = reason;
    CHECK(read_back(d).reason == reason);
  }
  CHECK(named_reasons == reason_names);
  CHECK(named_hooks == hook_names);
  CHECK(to_string(static_cast<DenialReason>(42)) == "reason42");
  CHECK(to_string(DenialReason::rebinding) == "rebinding");
  CHECK(to_string(DenialHook::dns) == "dns");
}

TEST_CASE("an unknown reason, hook or malformed record is refused with an error naming the key") {
  json record = denial_json(connect_denial());
  record["reason"] = "too_spicy";
  CHECK(refusal(record) == "not a denial record: \"reason\" names no reason agentd knows: \"too_spicy\"");
  // A named code has one spelling; the numbered form is for unnamed codes.
  record["reason"] = "reason1";
  CHECK(refusal(record).find("\"reason1\"") != std::string::npos);
  record["reason"] = "reason300";
  CHECK(refusal(record).find("\"reason300\"") != std::string::npos);

  record = denial_json(connect_denial());
  record["hook"] = "teleport";
  CHECK(refusal(record) == "not a denial record: \"hook\" names no hook agentd knows: \"teleport\"");

  record = denial_json(connect_denial());
  record.erase("dest");
  CHECK(refusal(record) == "not a denial record: \"dest\" is missing");
  record = denial_json(connect_denial());
  record["port"] = 70000;
  CHECK(refusal(record) == "not a denial record: \"port\" is past 65535");
  record["port"] = -1;
  CHECK(refusal(record) == "not a denial record: \"port\" is not a non-negative integer");
  record = denial_json(connect_denial());
  record["time"] = "yesterday";
  CHECK(refusal(record).find("\"time\" is not RFC 3339") != std::string::npos);
  record = denial_json(dns_denial());
  record["qtype"] = 1;
  CHECK(refusal(record) == "not a denial record: \"qtype\" is not a string");
  CHECK(refusal(json::array()) == "not a denial record: not a JSON object");
  CHECK(refusal(json{{"type", "allow"}}) == "not a denial record: \"type\" is not \"deny\"");
  const json bare = {{"type", "deny"}};
  CHECK_THROWS_AS(bare.get<Denial>(), std::invalid_argument);
}

TEST_CASE("OCSF is a view of the typed denial: Network Activity for the kernel's, DNS Activity for the proxy's") {
  const json connect = agentd::approvals::ocsf_denial(connect_denial());
  CHECK(connect["class_uid"] == 4001);
  CHECK(connect["time"] == 1714564800250LL);
  CHECK(connect["severity"] == "Medium");  // an explicit deny
  CHECK(connect["dst_endpoint"] == json{{"ip", "198.51.100.66"}, {"port", 443}, {"hostname", "api.example.test"}});
  CHECK(connect["actor"]["process"]["pid"] == 41);
  CHECK(connect["actor"]["process"]["user"]["uid"] == "1000");
  CHECK(connect["connection_info"]["protocol_name"] == "tcp");
  CHECK(connect["unmapped"] == json{{"sandbox", "acme/eng/coder-1"},
                                    {"reason", "deny_rule"},
                                    {"hook", "connect4"},
                                    {"rule", "acme.yaml:14:9 rules[0].deny[0]"},
                                    {"suppressed_before", 3}});

  const json dns = agentd::approvals::ocsf_denial(dns_denial());
  CHECK(dns["class_uid"] == 4003);
  CHECK(dns["severity"] == "Low");
  CHECK(dns["query"] == json{{"hostname", "evil.example"}, {"type", "A"}});
  CHECK(dns["message"] == "acme/eng/coder-1 may not resolve evil.example");

  const json inbound = agentd::approvals::ocsf_denial(inbound_denial());
  CHECK(inbound["src_endpoint"] == json{{"ip", "203.0.113.9"}});
  CHECK(inbound["dst_endpoint"] == json{{"name", "acme/eng/coder-1"}, {"port", 8080}});
  CHECK(inbound["connection_info"]["direction"] == "Inbound");

  const json socket = agentd::approvals::ocsf_denial(socket_denial());
  CHECK(socket["src_endpoint"]["name"].is_null());
  CHECK(socket["dst_endpoint"] == json{{"ip", ""}});
  CHECK(socket["connection_info"]["protocol_name"] == "");  // NOLINT(readability-container-size-empty): JSON
}

TEST_CASE("the audit row is a view of the typed denial") {
  const auto connect = agentd::store::denial_row(connect_denial());
  CHECK(connect.kind == "denial");
  CHECK(connect.actor == "kernel");
  CHECK(connect.dest == "198.51.100.66");
  CHECK(connect.host == "api.example.test");
  CHECK(connect.port == 443);
  CHECK(connect.detail["pid"] == 41);
  CHECK(connect.detail["suppressed_before"] == 3);
  CHECK(connect.detail["rule"] == "acme.yaml:14:9 rules[0].deny[0]");

  const auto dns = agentd::store::denial_row(dns_denial());
  CHECK(dns.actor == "dns");
  CHECK(dns.host == "evil.example");
  CHECK(dns.protocol == "udp");
  CHECK(dns.detail["pid"] == 0);

  const auto option = agentd::store::denial_row(option_denial());
  CHECK(option.protocol == "udp");
  CHECK(option.detail["option"] == "IPV6_RTHDR");
  CHECK(agentd::store::denial_row(socket_denial()).protocol.empty());
  CHECK(agentd::store::denial_row(inbound_denial()).detail["direction"] == "inbound");
}

TEST_CASE("the terminal line says who, what, why and which process, with a sandbox's bytes escaped") {
  CHECK(denial_text(connect_denial()) ==
        "acme/eng/coder-1 -> 198.51.100.66:443/tcp (api.example.test): denied (deny_rule, connect4); "
        "rule acme.yaml:14:9 rules[0].deny[0]; by curl (pid 41, uid 1000); 3 more held back before");
  CHECK(
      denial_text(dns_denial()) ==
      "acme/eng/coder-1 may not resolve evil.example (A/udp): denied (no_rule, dns); rule no rule allows evil.example");
  CHECK(denial_text(inbound_denial()) ==
        "acme/eng/coder-1 <- 203.0.113.9 to port 8080/tcp: denied (no_rule, packet_ingress); by curl (pid 41, uid "
        "1000); 12 other records held back");
  CHECK(denial_text(socket_denial()) ==
        "(no sandbox): a packet/raw socket (protocol 3): denied (socket_type, sock_create); by ping (pid 5, uid 0)");
  Denial v6 = connect_denial();
  v6.destination->address = "2001:db8::1";
  v6.process->comm = "evil\x1b[2J\nname";
  const std::string line = denial_text(v6);
  CHECK(line.find("[2001:db8::1]:443/tcp") != std::string::npos);
  CHECK(line.find('\x1b') == std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
}
