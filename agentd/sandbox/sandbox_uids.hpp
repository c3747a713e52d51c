// The user a sandbox runs as when its policy names none: a uid of its own,
// from a range agentd owns (as systemd's DynamicUser=), derived from the
// sandbox's slot. Two live sandboxes never share a uid (slots are unique),
// and no account of the host owns one: a uid that /etc/passwd (or any NSS
// source) knows, as a user or a group, is refused rather than borrowed.
//
// The default range, 80000-96383 (one uid per slot, 16384 of them), sits
// where nothing standard allocates: above 65535 (nobody, 16-bit tools and
// systemd's dynamic range 61184-65519) and below 100000, where useradd
// starts /etc/subuid and /etc/subgid ranges; systemd-nspawn's container
// range starts at 524288.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd::sandbox {

struct UidRange {
  uint32_t first = 80000;
  uint32_t last = 96383;
  std::string str() const { return std::to_string(first) + "-" + std::to_string(last); }
};

// "FIRST-LAST". Refuses ranges that touch root and the system users
// (below 1000), nobody (65534), the 16-bit -1 (65535), or uids at or above
// 2^31 (negative to too many tools).
Result<UidRange> parse_uid_range(std::string_view text);

// Whether an account (user or group) with this id exists on the host.
using AccountExists = std::function<bool(uint32_t id)>;
bool host_account_exists(uint32_t id);  // getpwuid_r / getgrgid_r: every NSS source

// The uid (and gid: the same number) of the sandbox in `slot` (1 and up).
Result<uint32_t> sandbox_uid(const UidRange& range, uint32_t slot, const AccountExists& exists = host_account_exists);

}  // namespace agentd::sandbox
