// agentctl grants export: a tenant's standing grants as the policy rules
// that would allow the same, to move them into Git and let them end as
// grants. Pure: the grants as `grants.list` returns them in, YAML out.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"

namespace agentctl {

// One policy document for `tenant` (apiVersion, tenant, rules): a rule per
// grant, its agents selector from the grant's scope (the agent; its team's
// "tenant/team/*"; the tenant's "tenant/*/*"), an address grant as a /32 or
// /128 CIDR on its port and protocol, a name grant as a `host:` on every
// port, an inbound grant under `inbound:`. Each carries the grant's id,
// scope and end as a comment. An error when no grant is the tenant's.
agentd::Result<std::string> grants_as_policy(const nlohmann::json& grants, const std::string& tenant);

}  // namespace agentctl
