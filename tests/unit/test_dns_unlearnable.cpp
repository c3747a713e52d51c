// Addresses an answer may never teach: broadcast, multicast, loopback,
// unspecified, link-local, reserved, IPv4-mapped. Table-driven.
#include <catch2/catch.hpp>

#include <string>

#include "agentd/dns/unlearnable.hpp"
#include "agentd/policy/model.hpp"
#include "agentd_abi.h"

using namespace agentd;

namespace {

dns::LearnedAddress address(const std::string& text) {
  auto cidr = policy::parse_cidr(text);
  REQUIRE(cidr);
  dns::LearnedAddress a;
  a.family = cidr->family;
  a.addr = cidr->addr;
  return a;
}

}  // namespace

TEST_CASE("broadcast, multicast, loopback and other non-sites are never learned") {
  const std::pair<const char*, const char*> refused[] = {
      {"255.255.255.255", "limited broadcast"},
      {"224.0.0.1", "multicast"},
      {"239.255.255.250", "multicast"},
      {"0.0.0.0", "this network (0/8)"},
      {"0.1.2.3", "this network (0/8)"},
      {"127.0.0.1", "loopback"},
      {"127.64.0.5", "loopback"},
      {"169.254.169.254", "link-local"},
      {"240.0.0.1", "reserved (240/4)"},
      {"::", "unspecified"},
      {"::1", "loopback"},
      {"fe80::1", "link-local"},
      {"ff02::1", "multicast"},
      {"ff0e::1", "multicast"},
  };
  for (const auto& [text, kind] : refused) {
    INFO(text);
    CHECK(dns::unlearnable_kind(address(text)) == kind);
  }
}

TEST_CASE("an IPv4-mapped AAAA is never learned") {
  // Built by hand: parse_cidr reads ::ffff:a.b.c.d as IPv4, an AAAA record does not.
  for (uint8_t last : {0, 10, 255}) {
    dns::LearnedAddress a;
    a.family = AGENTD_FAMILY_IPV6;
    a.addr[10] = a.addr[11] = 0xff;
    a.addr[12] = 198, a.addr[13] = 51, a.addr[14] = 100, a.addr[15] = last;
    CHECK(dns::unlearnable_kind(a) == "IPv4-mapped");
  }
  // Only that /96: a neighbour is an ordinary IPv6 address.
  CHECK(dns::unlearnable_kind(address("::1:ffff:0:1")).empty());
}

TEST_CASE("sites stay learnable, NAT64 and private ranges included") {
  // Private ranges are the rebinding protection's (configurable, a cidr
  // rule may open them); NAT64 is how IPv6-only hosts reach IPv4 sites.
  for (const char* text : {"198.51.100.10", "203.0.113.1", "192.0.2.1", "10.1.2.3", "100.64.0.1", "223.255.255.255",
                           "2001:db8::1", "64:ff9b::c633:640a", "fc00::1", "fec0::1"}) {
    INFO(text);
    CHECK(dns::unlearnable_kind(address(text)).empty());
  }
}

TEST_CASE("a broadcast address of this host is never learned") {
  const std::vector<policy::Cidr> broadcasts = {*policy::parse_cidr("198.51.100.255/32")};
  CHECK(dns::unlearnable_kind(address("198.51.100.255"), broadcasts) == "a broadcast address of this host");
  CHECK(dns::unlearnable_kind(address("198.51.100.254"), broadcasts).empty());
}
