// The host's own addresses as the hooks look them up (agentd_hostaddr).
#include <catch2/catch.hpp>

#include <cstring>

#include "agentd/bpf/host_address_keys.hpp"

using agentd::bpf::host_address_keys;

namespace {

agentd::policy::Cidr cidr(const char* text) {
  auto parsed = agentd::policy::parse_cidr(text);
  REQUIRE(parsed);
  return *parsed;
}

bool has(const std::vector<agentd_hostaddr_key>& keys, uint64_t cookie, uint32_t family,
         const std::array<uint8_t, 16>& addr) {
  for (const auto& k : keys)
    if (k.netns_cookie == cookie && k.family == family && std::memcmp(k.addr, addr.data(), 16) == 0 && k._pad == 0)
      return true;
  return false;
}

}  // namespace

TEST_CASE("host address keys: the marker, the unspecified addresses and each address once") {
  const auto v4 = cidr("198.51.100.1"), v6 = cidr("2001:db8:1::1");
  auto keys = host_address_keys(42, {v4, v6, v4});
  CHECK(keys.size() == 5);
  CHECK(has(keys, 42, 0, {}));                        // the namespace is listed
  CHECK(has(keys, 42, AGENTD_FAMILY_IPV4, {}));       // 0.0.0.0
  CHECK(has(keys, 42, AGENTD_FAMILY_IPV6, {}));       // ::
  CHECK(has(keys, 42, AGENTD_FAMILY_IPV4, v4.addr));  // IPv4 in the first four bytes, the rest zero
  CHECK(has(keys, 42, AGENTD_FAMILY_IPV6, v6.addr));
  CHECK_FALSE(has(keys, 7, AGENTD_FAMILY_IPV4, v4.addr));
}

TEST_CASE("host address keys: no address still lists the namespace and the unspecified addresses") {
  auto keys = host_address_keys(1, {});
  CHECK(keys.size() == 3);
  CHECK(has(keys, 1, 0, {}));
}
