// DNS rebinding protection: an allowed name whose answer points into
// loopback, link-local (cloud metadata at 169.254.169.254), private
// ranges or the host's own addresses is not learned, unless a CIDR rule of
// the sandbox allows that range anyway.
#pragma once

#include <string>
#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/dns/message.hpp"
#include "agentd/policy/compile.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::dns {

class ProtectedRanges {
 public:
  // 0.0.0.0/8 127/8 169.254/16 10/8 172.16/12 192.168/16 100.64/10
  // 224/4 ::/128 ::1/128 fc00::/7 fe80::/10 ff00::/8 ::ffff:0:0/96.
  static ProtectedRanges defaults();
  // "10.0.0.0/8,fc00::/7": replaces the defaults; the error names the item.
  static Result<ProtectedRanges> parse(const std::string& comma_separated);

  // Does the protected set, or the host's own addresses, hold `address`?
  // Returns the range (or "a host address") that does, empty otherwise.
  std::string covering(const LearnedAddress& address, const std::vector<policy::Cidr>& host_addresses) const;
  std::string str() const;

 private:
  std::vector<policy::Cidr> ranges_;
};

// The address as a /32 or /128.
policy::Cidr as_host_cidr(const LearnedAddress& address);

// The addresses of this host's interfaces (in agentd's network namespace).
std::vector<policy::Cidr> host_addresses();
// Their IPv4 broadcast addresses, as /32s (never learned: see unlearnable.hpp).
std::vector<policy::Cidr> host_broadcasts();

// Whether a CIDR rule of the class allows `address` on some port: then
// the operator opened that range on purpose, and learning it adds nothing.
bool cidr_rule_allows(const policy::CompiledClass& compiled, const LearnedAddress& address);

}  // namespace agentd::dns
