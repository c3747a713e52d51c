// A fleet grant as etcd keeps it (README, "Fleet"): a team or tenant grant
// made on one host, at <prefix>/grants/<host>/<id>, whose value is the grant
// as the control API shows it. Every host mirrors every such key. A value
// comes from etcd, which anyone holding etcd's credentials may write: it is
// read strictly, and anything but a well-formed team or tenant grant is
// refused with the key and the reason. Pure: unit-tested.
#pragma once

#include <string>
#include <string_view>

#include "agentd/approvals/book.hpp"
#include "agentd/common/result.hpp"
#include "agentd/fleet/key_layout.hpp"

namespace agentd::fleet {

// A grant value past this is refused: a real one is under 1 KiB.
inline constexpr size_t kMaxGrantRecordBytes = size_t{16} * 1024;
// A read of the grants prefix with more keys than this is not applied (the
// grants in force stay): each tenant's grant budget is far below it, and
// parsing a flood would hold up the event loop.
inline constexpr size_t kMaxFleetGrantKeys = 20000;

// Whether a grant of this scope is the fleet's (team and tenant grants) or
// this host's alone (an agent's).
bool is_fleet_scope(approvals::Scope scope);

// The value written under layout.grant_key(origin host, origin id).
std::string grant_record_value(const approvals::Grant& grant);

// The grant a key and its value hold, its origin taken from the key (never
// the value: a host cannot be made to think it made a grant it did not).
// Its local id is 0 (the mirroring host gives its own).
Result<approvals::Grant> parse_grant_record(const KeyLayout& layout, std::string_view key, std::string_view value);

}  // namespace agentd::fleet
