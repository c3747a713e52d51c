#include <arpa/inet.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "agentd/events/denial_json.hpp"
#include "agentd/events/denial_record.hpp"

using agentd::events::DenialContext;

namespace {

// What the denial log writes for a kernel record: the wire format e2e
// tests and agentctl read, which the typed record must keep.
nlohmann::json denial_to_json(const agentd_deny_event& event, const DenialContext& context) {
  return agentd::events::denial_json(agentd::events::denial_of(event, context));
}

}  // namespace

namespace {

agentd_deny_event connect_event() {
  agentd_deny_event e{};
  e.pid = 42;
  e.tgid = 41;
  e.uid = 1000;
  e.cgroup_id = 7;
  std::memcpy(e.comm, "curl", 4);
  inet_pton(AF_INET, "198.51.100.66", e.addr);
  e.addr_family = AGENTD_FAMILY_IPV4;
  e.port = 443;
  e.family = AF_INET;
  e.protocol = IPPROTO_TCP;
  e.hook = AGENTD_HOOK_CONNECT4;
  e.reason = AGENTD_REASON_DENY_RULE;
  return e;
}

}  // namespace

TEST_CASE("a connect denial becomes a JSON line with sandbox, process, destination and rule") {
  DenialContext context{"acme/eng/coder-1", "acme.yaml:14:9 rules[0].deny[0]", {}};
  auto record = denial_to_json(connect_event(), context);
  CHECK(record["type"] == "deny");
  CHECK(record["sandbox"] == "acme/eng/coder-1");
  CHECK(record["dest"] == "198.51.100.66");
  CHECK(record["port"] == 443);
  CHECK(record["protocol"] == "tcp");
  CHECK(record["hook"] == "connect4");
  CHECK(record["reason"] == "deny_rule");
  CHECK(record["comm"] == "curl");
  CHECK(record["pid"] == 42);
  CHECK(record["rule"] == "acme.yaml:14:9 rules[0].deny[0]");
  CHECK(record["time"] == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("an IPv6 denial names the address in IPv6 text, and unknown sandboxes are null") {
  auto e = connect_event();
  inet_pton(AF_INET6, "2001:db8::66", e.addr);
  e.addr_family = AGENTD_FAMILY_IPV6;
  e.hook = AGENTD_HOOK_SENDMSG6;
  e.protocol = IPPROTO_UDP;
  auto record = denial_to_json(e, DenialContext{});
  CHECK(record["dest"] == "2001:db8::66");
  CHECK(record["hook"] == "sendmsg6");
  CHECK(record["protocol"] == "udp");
  CHECK(record["sandbox"].is_null());
  CHECK_FALSE(record.contains("rule"));
}

TEST_CASE("a refused socket names its family and type, not a destination") {
  agentd_deny_event e{};
  e.hook = AGENTD_HOOK_SOCK_CREATE;
  e.reason = AGENTD_REASON_SOCKET_TYPE;
  e.family = AF_PACKET;
  e.sock_type = SOCK_RAW;
  auto record = denial_to_json(e, DenialContext{"acme/eng/coder-1", std::nullopt, {}});
  CHECK(record["family"] == "packet");
  CHECK(record["sock_type"] == "raw");
  CHECK(record["reason"] == "socket_type");
  CHECK_FALSE(record.contains("dest"));
}
