// Reverse lookups: which names are reverse names, and the address each stands for.
#include <catch2/catch.hpp>

#include "agentd/dns/reverse_name.hpp"
#include "agentd_abi.h"

using agentd::dns::is_reverse_name;
using agentd::dns::reverse_address;

TEST_CASE("reverse names: IPv4 and IPv6 forms give their address") {
  auto v4 = reverse_address("10.100.51.198.in-addr.arpa");
  REQUIRE(v4);
  CHECK(v4->family == AGENTD_FAMILY_IPV4);
  CHECK((v4->addr[0] == 198 && v4->addr[1] == 51 && v4->addr[2] == 100 && v4->addr[3] == 10));
  CHECK(v4->addr[4] == 0);
  CHECK(reverse_address("10.100.51.198.IN-ADDR.ARPA.").has_value());  // case, trailing dot
  auto v6 = reverse_address("0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  REQUIRE(v6);
  CHECK(v6->family == AGENTD_FAMILY_IPV6);
  const std::array<uint8_t, 16> expected = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
  CHECK(v6->addr == expected);
}

TEST_CASE("reverse names: zones, partial and malformed names stand for no address") {
  for (const char* name : {"in-addr.arpa", "51.198.in-addr.arpa", "1.10.100.51.198.in-addr.arpa",
                           "256.100.51.198.in-addr.arpa", "01.100.51.198.in-addr.arpa", "a.100.51.198.in-addr.arpa",
                           "-1.100.51.198.in-addr.arpa", "..51.198.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa",
                           "g.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                           "10.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "example.test",
                           "in-addr.arpa.example.test"}) {
    INFO(name);
    CHECK_FALSE(reverse_address(name).has_value());
  }
  CHECK(is_reverse_name("51.198.in-addr.arpa"));
  CHECK(is_reverse_name("8.b.d.0.1.0.0.2.IP6.ARPA."));
  CHECK_FALSE(is_reverse_name("in-addr.arpa.example.test"));
  CHECK_FALSE(is_reverse_name("notin-addr.arpa"));
}
