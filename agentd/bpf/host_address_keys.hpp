// The host's own addresses as the hooks look them up (agentd_hostaddr):
// a connection to one of them loops back to whatever listens on the host,
// so it is judged as loopback, and in a listed namespace a bind to any
// other address is refused (bpf/egress.bpf.h). Pure: unit-tested without
// a kernel.
#pragma once

#include <cstdint>
#include <vector>

#include "agentd/policy/model.hpp"
#include "agentd_abi.h"

namespace agentd::bpf {

// Every key for one network namespace: the marker (family 0) that says its
// addresses are listed, the unspecified addresses 0.0.0.0 and ::, and each
// interface address (IPv4-mapped forms are judged as IPv4 by the hooks).
std::vector<agentd_hostaddr_key> host_address_keys(uint64_t netns_cookie, const std::vector<policy::Cidr>& addresses);

// Keys in a set: byte order (the key has no padding the kernel ignores).
struct HostAddressKeyLess {
  bool operator()(const agentd_hostaddr_key& a, const agentd_hostaddr_key& b) const;
};

}  // namespace agentd::bpf
