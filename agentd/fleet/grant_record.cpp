#include "agentd/fleet/grant_record.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/policy/model.hpp"
#include "agentd/policy/names.hpp"

namespace agentd::fleet {

namespace {

// The subject a scope needs: "tenant" or "tenant/team", each part a name.
bool subject_fits(approvals::Scope scope, std::string_view subject) {
  const auto slash = subject.find('/');
  if (scope == approvals::Scope::tenant) return slash == std::string_view::npos && policy::is_valid_name(subject);
  if (slash == std::string_view::npos) return false;
  return policy::is_valid_name(subject.substr(0, slash)) && policy::is_valid_name(subject.substr(slash + 1));
}

// What a grant opens, checked as a grant made here would be.
Status check_target(const approvals::Grant& g) {
  if (g.is_name()) {
    if (!g.address.empty() || g.port != 0 || g.inbound)
      return make_error("a name grant has no address, port or direction");
    auto name = policy::parse_host_name(g.host);
    if (!name || *name != g.host) return make_error("\"{}\" is not a host name as agentd writes it", safe_text(g.host));
    return ok_status();
  }
  if (g.protocol != "tcp" && g.protocol != "udp")
    return make_error("protocol \"{}\" is not tcp, udp or dns", safe_text(g.protocol));
  auto address = policy::parse_cidr(g.address);
  if (!address || address->prefix != address->max_prefix() || g.address.find('/') != std::string::npos)
    return make_error("\"{}\" is not one address", safe_text(g.address));
  if (g.port == 0) return make_error("an address grant needs a port");
  return ok_status();
}

}  // namespace

bool is_fleet_scope(approvals::Scope scope) { return scope != approvals::Scope::agent; }

std::string grant_record_value(const approvals::Grant& grant) {
  auto json = approvals::grant_to_json(grant);
  json.erase("fleet");  // the key says where it was made
  return dump_json(json);
}

Result<approvals::Grant> parse_grant_record(const KeyLayout& layout, std::string_view key, std::string_view value) {
  const std::string prefix = layout.grants_prefix();
  auto refuse = [&](const std::string& why) {
    return make_error("etcd key \"{}\": {}", safe_text(key.substr(0, 300)), why);
  };
  if (key.substr(0, prefix.size()) != prefix) return refuse("not under " + prefix);
  const auto rest = key.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return refuse("not <host>/<id>");
  approvals::FleetOrigin origin{std::string(rest.substr(0, slash)), 0};
  const auto id_text = rest.substr(slash + 1);
  if (!is_host_name(origin.host)) return refuse("the host part is not [A-Za-z0-9_.-]{1,253}");
  const auto parsed = std::from_chars(id_text.data(), id_text.data() + id_text.size(), origin.id);
  if (id_text.empty() || parsed.ec != std::errc() || parsed.ptr != id_text.data() + id_text.size() || origin.id == 0)
    return refuse("the id part is not a grant id");
  if (value.size() > kMaxGrantRecordBytes) return refuse(fmt::format("larger than {} bytes", kMaxGrantRecordBytes));
  auto json = nlohmann::json::parse(value, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return refuse("not a JSON object");
  json["id"] = origin.id;
  json.erase("fleet");
  auto grant = approvals::grant_from_json(json);
  if (!grant) return refuse(grant.error().message);
  if (!is_fleet_scope(grant->scope)) return refuse("an agent's grant is its host's alone, not the fleet's");
  if (!subject_fits(grant->scope, grant->subject))
    return refuse(
        fmt::format("subject \"{}\" is not a {} name", safe_text(grant->subject), approvals::scope_name(grant->scope)));
  if (auto target = check_target(*grant); !target) return refuse(target.error().message);
  if (grant->created_by.size() > 256) return refuse("created_by is longer than 256 bytes");
  grant->id = 0;
  grant->request_id = 0;  // a request of another host's
  grant->origin = std::move(origin);
  return grant;
}

}  // namespace agentd::fleet
