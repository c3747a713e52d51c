// Which check denied, and why: the two words every denial record carries
// ("hook", "reason"), as enums so that no part of agentd compares text.
//
// The kernel's values are its ABI codes (agentd_abi.h), so a record is
// built with a cast, and a code this build does not name is kept rather
// than dropped: it is written "hook12" / "reason42" and read back as the
// same code (a record is evidence; losing one for a name is worse). The
// kernel's codes are one byte; the DNS proxy's own hook and reasons sit
// at 0x100 and above, where no kernel code, named or not, can reach.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agentd_abi.h"

namespace agentd::events {

enum class DenialHook : uint16_t {
  connect4 = AGENTD_HOOK_CONNECT4,
  connect6 = AGENTD_HOOK_CONNECT6,
  sendmsg4 = AGENTD_HOOK_SENDMSG4,
  sendmsg6 = AGENTD_HOOK_SENDMSG6,
  sock_create = AGENTD_HOOK_SOCK_CREATE,
  bind4 = AGENTD_HOOK_BIND4,
  bind6 = AGENTD_HOOK_BIND6,
  setsockopt = AGENTD_HOOK_SETSOCKOPT,
  packet_egress = AGENTD_HOOK_SKB_EGRESS,
  packet_ingress = AGENTD_HOOK_SKB_INGRESS,
  name_check = AGENTD_HOOK_NAME_CHECK,
  dns = 0x100,  // the DNS proxy refused a query: no kernel hook
};

enum class DenialReason : uint16_t {
  // The kernel's (and, for no_rule, deny_rule and unknown_cgroup, the DNS
  // proxy's too: the same decision about a name).
  no_rule = AGENTD_REASON_NO_RULE,
  deny_rule = AGENTD_REASON_DENY_RULE,
  unknown_cgroup = AGENTD_REASON_UNKNOWN_CGROUP,
  socket_type = AGENTD_REASON_SOCKET_TYPE,
  dns_expired = AGENTD_REASON_DNS_EXPIRED,
  dns_unsupported = AGENTD_REASON_DNS_UNSUPPORTED,
  proxy_spoof = AGENTD_REASON_PROXY_SPOOF,
  route_option = AGENTD_REASON_ROUTE_OPTION,
  route_header = AGENTD_REASON_ROUTE_HEADER,
  name_not_allowed = AGENTD_REASON_NAME_NOT_ALLOWED,
  name_denied = AGENTD_REASON_NAME_DENIED,
  no_name = AGENTD_REASON_NO_NAME,
  ech = AGENTD_REASON_ECH,
  unparsable = AGENTD_REASON_UNPARSABLE,
  nameless = AGENTD_REASON_NAMELESS,
  unverified_data = AGENTD_REASON_UNVERIFIED_DATA,
  quic = AGENTD_REASON_QUIC,
  dns_netns = AGENTD_REASON_DNS_NETNS,
  host_address = AGENTD_REASON_HOST_ADDRESS,
  foreign_source = AGENTD_REASON_FOREIGN_SOURCE,
  // The DNS proxy's alone.
  query_type = 0x100,  // a class or type the proxy does not forward
  no_upstream,         // an allowed name, but no upstream resolver is known
  unlearnable,         // an answer's address is never a site (broadcast, loopback...)
  rebinding,           // an answer's address points into a protected range
  learned_quota,       // the sandbox's learned addresses are at their budget
};

// "connect4", "dns"; a code without a name "hook12".
std::string to_string(DenialHook hook);
// "no_rule", "rebinding"; a code without a name "reason42".
std::string to_string(DenialReason reason);
// The inverse of to_string: nullopt for any other text.
std::optional<DenialHook> parse_hook(std::string_view text);
std::optional<DenialReason> parse_reason(std::string_view text);

}  // namespace agentd::events
