#include "agentd/daemon/approval_service.hpp"

#include "agentd/policy/explain.hpp"

#include <unistd.h>

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "agentd/approvals/grant_review.hpp"
#include "agentd/approvals/ocsf.hpp"
#include "agentd/bpf/learned_entry.hpp"
#include "agentd/common/duration.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/daemon/dns_learning.hpp"
#include "agentd/policy/compile.hpp"
#include "agentd/policy/names.hpp"
#include "agentd/policy/ports.hpp"
#include "agentd/store/denial_row.hpp"

namespace agentd::daemon {
using approvals::Clock;
using nlohmann::json;

namespace {

constexpr auto kPruneInterval = std::chrono::hours(1);

std::string tenant_of(const std::string& sandbox) { return sandbox.substr(0, sandbox.find('/')); }

// The sandbox chose the file name: bytes, made valid UTF-8 for the
// request's JSON, the store and the prompt.
std::string exe_of(uint32_t pid) {
  char path[4096];
  const ssize_t n = ::readlink(fmt::format("/proc/{}/exe", pid).c_str(), path, sizeof(path) - 1);
  return n > 0 ? safe_text(std::string_view(path, static_cast<size_t>(n))) : std::string();
}

// Wall-clock expiry to the kernel's clock (CLOCK_MONOTONIC).
uint64_t monotonic_deadline(const std::optional<approvals::Time>& expires_at) {
  if (!expires_at) return AGENTD_NEVER_EXPIRES;
  const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*expires_at - Clock::now()).count();
  return left <= 0 ? 1 : monotonic_now_ns() + static_cast<uint64_t>(left);
}

}  // namespace

Result<std::unique_ptr<ApprovalService>> ApprovalService::start(const ApprovalOptions& options, store::Store& store,
                                                                bpf::KernelMaps& maps, const PolicyApplier& applier,
                                                                const SandboxRegistry& registry) {
  auto roles = approvals::Roles::load(options.roles_file);
  if (!roles) return roles.error();
  std::unique_ptr<ApprovalService> service(new ApprovalService(std::move(*roles), store, maps, applier, registry));
  if (!options.audit_log.empty()) {
    auto log = DenialLog::open(options.audit_log == "-" ? std::filesystem::path() : options.audit_log);
    if (!log) return log.error();
    service->siem_ = std::move(*log);
  }
  if (!options.audit_syslog.empty()) {
    auto facility = syslog_facility(options.audit_syslog);
    if (!facility) return make_error("--audit-syslog: {}", facility.error().describe());
    service->siem_syslog_ = std::make_unique<AuditSyslog>(*facility, options.audit_syslog_socket);
  }
  // The store is the source of truth: what it holds goes back into the
  // book and the kernel; what expired while agentd was away ends now.
  auto requests = service->store_->open_requests();
  if (!requests) return requests.error();
  auto grants = service->store_->live_grants();
  if (!grants) return grants.error();
  auto max_request = service->store_->max_request_id();
  auto max_grant = service->store_->max_grant_id();
  if (!max_request || !max_grant) return make_error("reading the store's ids");
  const size_t restored = grants->size();
  service->caps_ = options.request_caps;
  service->grant_budget_ = approvals::GrantBudget(options.grants_per_tenant);
  service->denial_rows_ = store::WriteBudget(options.audit_max_denials_per_second);
  service->book_.restore(std::move(*requests), std::move(*grants), *max_request, *max_grant);
  service->tick();
  service->sync_grants();
  spdlog::info("approvals: store {}, {} live grants restored, {} roles{}", service->store_->file().string(),
               service->book_.grants().size(), service->roles_.bindings().size(),
               restored != service->book_.grants().size() ? " (some expired while agentd was away)" : "");
  return service;
}

approvals::Identity ApprovalService::identity(const api::Peer& peer) const {
  return identities_.get(peer.uid, peer.gid,
                         peer.groups_known ? std::optional<std::vector<uint32_t>>(
                                                 std::vector<uint32_t>(peer.groups.begin(), peer.groups.end()))
                                           : std::nullopt);
}

std::optional<std::string> ApprovalService::admit(const api::Peer& peer) const {
  const auto who = identity(peer);
  if (roles_.highest(who) == approvals::Role::none)
    return fmt::format("{} has no role in agentd's roles file: only root and the users and groups it names are served",
                       who.str());
  return std::nullopt;
}

const policy::ApprovalSettings& ApprovalService::settings_for(const std::string& sandbox) const {
  const auto* policy = applier_.policy();
  return policy::approval_settings_of(policy ? policy->find(tenant_of(sandbox)) : nullptr);
}

void ApprovalService::audit(const store::AuditEvent& event) {
  if (auto st = store_->audit(event); !st) {
    if (store_errors_++ % 1000 == 0) spdlog::error("audit store: {}", st.error().describe());
  }
}

void ApprovalService::siem(const json& ocsf) {
  if (siem_syslog_) siem_syslog_->write(ocsf);
  if (!siem_) return;
  siem_->write(ocsf);
  if (!batching_) siem_->flush();  // a drain flushes once at its end
}

void ApprovalService::persist(const approvals::Request& request) {
  if (auto st = store_->save_request(request); !st)
    spdlog::error("saving request {}: {}", request.id, st.error().describe());
  offer_to_fleet(request);
}

// The transaction starts with the drain's first record: most drains (ten a
// second) find none, and an empty BEGIN and COMMIT each time was a third of
// an idle agentd's CPU.
void ApprovalService::begin_batch() { batching_ = true; }

void ApprovalService::end_batch() {
  batching_ = false;
  if (batch_) {
    if (auto st = batch_->commit(); !st) spdlog::error("audit store: {}", st.error().describe());
    batch_.reset();
  }
  if (siem_) siem_->flush();
}

void ApprovalService::on_denial(const events::Denial& record) {
  if (batching_ && !batch_) batch_.emplace(store_->transaction());
  using events::DenialHook;
  using events::DenialReason;
  const std::string sandbox = record.sandbox.value_or("");
  const DenialHook hook = record.hook;
  const store::AuditEvent event = store::denial_row(record);
  if (denial_rows_.admit(sandbox, std::chrono::steady_clock::now())) audit(event);
  siem(approvals::ocsf_denial(record));

  // Only what no rule decided is a question for an operator: an explicit
  // deny is the policy's answer, and an approval never overrides it.
  // A name no host rule allows is a question too (the proxy refused it, so
  // there is no address yet); a rebinding refusal is not.
  const DenialReason reason = record.reason;
  // A name check that found a name no rule or grant allows asks for the
  // name, as the DNS proxy's refusals do: its address is open already.
  const std::string checked_name =
      hook == DenialHook::name_check && reason == DenialReason::name_not_allowed ? record.name.value_or("") : "";
  const bool name_request =
      (hook == DenialHook::dns && reason == DenialReason::no_rule && !event.host.empty()) || !checked_name.empty();
  const bool inbound = record.inbound();
  if (sandbox.empty() || hook == DenialHook::sock_create || (hook == DenialHook::name_check && !name_request) ||
      (!name_request && (hook == DenialHook::dns || event.dest.empty())) ||
      (reason != DenialReason::no_rule && reason != DenialReason::dns_expired && reason != DenialReason::host_address &&
       !name_request))
    return;
  approvals::Denial denial;
  if (name_request)
    denial.target = {sandbox, "", 0, approvals::kNameProtocol, checked_name.empty() ? event.host : checked_name};
  else
    denial.target = {sandbox, event.dest, event.port, event.protocol, "", inbound};
  denial.host = name_request ? denial.target.name : event.host;
  const events::DenialProcess process = record.process.value_or(events::DenialProcess{});  // the proxy knows none
  denial.process = {process.tgid, process.uid, process.comm, process.tgid ? exe_of(process.tgid) : ""};
  denial.time = event.time;
  // The proxy's held-back refusals were of any names, not repeats of this one.
  denial.count = name_request ? 1 : 1 + record.suppressed_before;
  // An agent trying random destinations or names must not bury the
  // operators nor grow agentd: past the caps (every kind of request), a
  // new destination folds into the sandbox's one "N more destinations"
  // entry; what already has a request still counts there.
  const auto& settings = settings_for(sandbox);
  if (!settings.prompt) return;
  if (!book_.takes(denial.target, denial.time)) {
    // Denied just before a grant or a reload opened it (the record was on
    // its way): the operator or the policy has decided already.
    if (!allowed_now(denial.target).empty()) {
      ++requests_already_allowed_;
      return;
    }
    if (auto why = approvals::Folds::over_cap(book_.pending_counts(sandbox), caps_); !why.empty()) {
      folds_.add(denial, why, settings.request_expiry);
      ++requests_folded_;
      return;  // operators hear of it from tick(), once a second at most
    }
  }
  auto noted = book_.note_denial(denial, settings);
  if (!noted.request) return;
  persist(*noted.request);
  if (noted.what == approvals::Book::Noted::created) {
    ++requests_created_;
    audit({event.time,
           "request",
           "pending",
           "agentd",
           sandbox,
           event.dest,
           name_request ? denial.target.name : event.host,
           denial.target.port,
           denial.target.protocol,
           {{"request_id", noted.request->id}, {"expires_at", approvals::time_text(noted.request->expires_at)}}});
    broadcast({{"event", "request"}, {"request", approvals::request_to_json(*noted.request)}}, tenant_of(sandbox));
  } else if (noted.what == approvals::Book::Noted::counted) {
    broadcast({{"event", "updated"}, {"request", approvals::request_to_json(*noted.request)}}, tenant_of(sandbox));
  }
}

void ApprovalService::on_sandbox(const std::string& sandbox, const std::string& decision, const json& detail) {
  audit({Clock::now(), "sandbox", decision, "agentd", sandbox, "", "", 0, "", detail});
}

void ApprovalService::on_policy(const std::string& decision, const std::string& trigger, const json& detail) {
  json d = detail;
  d["trigger"] = trigger;
  audit({Clock::now(), "policy", decision, "agentd", "", "", "", 0, "", d});
}

void ApprovalService::audit_grant_made(const approvals::Grant& g, approvals::Time when, const std::string& actor) {
  json detail = {{"grant_id", g.id},
                 {"scope", approvals::scope_name(g.scope)},
                 {"expires_at", g.expires_at ? json(approvals::time_text(*g.expires_at)) : json(nullptr)}};
  if (g.origin) detail["fleet"] = g.origin->str();
  audit({when, "grant", "allow", actor, g.subject, g.address, g.host, g.port, g.protocol, std::move(detail)});
}

void ApprovalService::grant_ended(const approvals::Grant& grant, const std::string& why, const std::string& actor,
                                  bool leaves_fleet) {
  const auto now = Clock::now();
  if (fleet_ && grant.origin && leaves_fleet) {
    fleet_->withdraw(*grant.origin);
    if (!own(grant)) fleet_withdrawn_.insert(grant.origin->str());
  }
  fleet_seen_.erase(grant.id);
  if (auto st = store_->end_grant(grant.id, why, now); !st)
    spdlog::error("ending grant {}: {}", grant.id, st.error().describe());
  audit({now,
         why == "revoked" ? "revoke" : "expiry",
         why,
         actor,
         grant.subject,
         grant.address,
         grant.host,
         grant.port,
         grant.protocol,
         {{"grant_id", grant.id}, {"scope", approvals::scope_name(grant.scope)}}});
  broadcast({{"event", "grant_ended"}, {"why", why}, {"by", actor}, {"grant", approvals::grant_to_json(grant)}},
            grant.tenant());
  if (grant.is_name() && name_grants_changed_) name_grants_changed_();
}

void ApprovalService::tick() {
  const auto now = Clock::now();
  for (const auto& request : book_.expire_requests(now)) {
    persist(request);
    audit({now,
           "expiry",
           "expired",
           "agentd",
           request.target.sandbox,
           request.target.address,
           request.host,
           request.target.port,
           request.target.protocol,
           {{"request_id", request.id}, {"denials", request.count}}});
    siem(approvals::ocsf_decision(request, std::nullopt));
    broadcast({{"event", "expired"}, {"request", approvals::request_to_json(request)}},
              tenant_of(request.target.sandbox));
  }
  tell_folds(now);
  // One summary row per sandbox whose rows were not stored: whose they were.
  for (const auto& [sandbox, skipped] : denial_rows_.take_skipped())
    audit({now,
           "denial",
           "not_stored",
           "agentd",
           sandbox,
           "",
           "",
           0,
           "",
           {{"count", skipped},
            {"why", fmt::format("over its share of {} denial rows a second, shared by the sandboxes writing",
                                denial_rows_.per_second())}}});
  auto expired = book_.expire_grants(now);
  for (const auto& grant : expired) grant_ended(grant, "expired", "agentd");
  if (!expired.empty()) sync_grants();
  book_.forget_old(now);
  // The sweep removes a bounded share a tick and goes on at the next, so
  // a month of rows to remove never holds the loop.
  if (prune_more_ || std::chrono::steady_clock::now() - last_prune_ > kPruneInterval) {
    if (!prune_more_) last_prune_ = std::chrono::steady_clock::now();
    auto pruned = store_->prune(now);
    prune_more_ = pruned && pruned->more;
    if (!pruned)
      spdlog::error("pruning the store: {}", pruned.error().describe());
    else
      swept_ += pruned->removed;
    if (!prune_more_ && swept_) spdlog::info("store retention: {} old rows removed", std::exchange(swept_, 0));
  }
  if (siem_) siem_->flush();
}

std::string ApprovalService::allowed_now(const approvals::Target& target, std::optional<uint64_t> besides) const {
  auto agent = policy::parse_agent_name(target.sandbox);
  if (!agent) return "";
  if (const approvals::Grant* grant = book_.grant_opening(target, *agent, besides))
    return fmt::format("allowed by grant {} ({} {})", grant->id, approvals::scope_name(grant->scope), grant->subject);
  const auto* policy = applier_.policy();
  if (!policy) return "";
  if (target.is_name()) {
    const auto decision = policy::HostRules(*policy, *agent).decide(target.name);
    return decision.allowed ? decision.explanation : "";
  }
  if (target.inbound) return "";  // inbound rules are judged by the kernel alone; left to the operator
  std::string address = target.address;
  if (auto cidr = policy::parse_cidr(target.address); cidr && cidr->prefix == cidr->max_prefix()) {
    const bool own = std::any_of(host_addresses_.begin(), host_addresses_.end(), [&](const policy::Cidr& host) {
      return host.family == cidr->family && host.addr == cidr->addr;
    });
    const bool unspecified = cidr->addr == std::array<uint8_t, 16>{};
    if (own || unspecified) address = cidr->family == AGENTD_FAMILY_IPV4 ? "127.0.0.1" : "::1";
  }
  auto dest = policy::parse_destination(
      fmt::format("{}:{}/{}", address.find(':') != std::string::npos ? "[" + address + "]" : address, target.port,
                  target.protocol == "udp" ? "udp" : "tcp"));
  if (!dest) return "";
  auto decision = policy::explain(*policy, *agent, *dest);
  return decision && decision->allowed ? decision->explanation : "";
}

size_t ApprovalService::settle_pending(const std::string& trigger) {
  const auto now = Clock::now();
  auto settled = book_.settle([this](const approvals::Request& r) { return allowed_now(r.target); }, now);
  requests_settled_ += settled.size();
  for (const auto& r : settled) {
    persist(r);
    audit({now,
           "decision",
           "approved",
           "agentd",
           r.target.sandbox,
           r.target.address,
           r.host,
           r.target.port,
           r.target.protocol,
           {{"request_id", r.id}, {"answer", r.answer}, {"trigger", trigger}, {"denials", r.count}}});
    siem(approvals::ocsf_decision(r, std::nullopt));
    spdlog::info("approvals: request {} ({}) needs no answer after {}: {}", r.id, terminal_text(r.target.str()),
                 trigger, terminal_text(r.answer));
    broadcast({{"event", "answered"}, {"request", approvals::request_to_json(r)}}, tenant_of(r.target.sandbox));
  }
  return settled.size();
}

size_t ApprovalService::revoke_denied_by_policy() {
  const auto* policy = applier_.policy();
  if (!policy) return 0;
  // As policy diff foretold it (approvals/grant_review): denied outright
  // for every sandbox it covers, or for its agent.
  std::vector<policy::AgentName> agents;
  agents.reserve(registry_.all().size());
  for (const auto& [slot, sandbox] : registry_.all()) agents.push_back(sandbox.agent);
  approvals::GrantJudge judge(*policy);  // each class compiled once for all grants
  std::vector<uint64_t> doomed;
  for (const auto& [id, grant] : book_.grants())
    if (judge.revokes(grant, agents)) doomed.push_back(id);
  for (uint64_t id : doomed) {
    auto grant = book_.revoke(id);
    if (!grant) continue;
    // Every host judges the fleet's grants by the same policy; a mirror
    // is left to its own host to withdraw.
    grant_ended(*grant, "revoked", "policy reload (an explicit deny now covers it)", !grant->origin || own(*grant));
    spdlog::info("approvals: grant {} revoked: the new policy denies {}", grant->id,
                 terminal_text(grant->is_name() ? grant->host : fmt::format("{}:{}", grant->address, grant->port)));
  }
  if (!doomed.empty()) sync_grants();
  return doomed.size();
}

std::vector<approvals::GrantSandbox> ApprovalService::grant_sandboxes() const {
  std::vector<approvals::GrantSandbox> sandboxes;
  sandboxes.reserve(registry_.all().size());
  for (const auto& [slot, sandbox] : registry_.all()) sandboxes.push_back({slot, sandbox.agent});
  return sandboxes;
}

void ApprovalService::sync_grants() {
  using Key = bpf::LearnedKey;
  // Each tenant's share of the shared map: past its limit (sandboxes made
  // after its grants), its newest grants' entries are left out.
  const auto sandboxes = grant_sandboxes();
  const auto plan = grant_budget_.plan(book_.grants(), sandboxes);
  if (plan.over_limit > entries_over_limit_)
    spdlog::warn("approvals: {} kernel grant entries left out: their tenants are at --grants-per-tenant {}",
                 plan.over_limit, grant_budget_.per_tenant());
  entries_over_limit_ = plan.over_limit;
  entries_by_tenant_ = plan.by_tenant;
  std::erase_if(entries_by_tenant_, [](const auto& kv) { return kv.second == 0; });
  auto admitted = [&](uint32_t slot, const approvals::Grant& grant) {
    for (const auto& entry : approvals::entries_of(grant, {{slot, registry_.all().at(slot).agent}}))
      if (plan.admits(entry)) return true;
    return false;
  };
  struct Entry {
    std::vector<agentd_port_range> ranges;
    uint64_t expires_ns = 0;
  };
  std::map<Key, Entry> desired;
  // Name grants: the DNS proxy consults the book for those and the kernel
  // learns their addresses; the names trie holds the names themselves,
  // which the first bytes of a connection to such an address must carry.
  std::map<std::pair<uint32_t, std::string>, uint64_t> names;
  for (const auto& [slot, sandbox] : registry_.all()) {
    for (const auto* grant : book_.grants_covering(sandbox.agent)) {
      if (!admitted(slot, *grant)) continue;
      if (grant->is_name()) {
        uint64_t& until = names[{slot, grant->host}];
        until = std::max(until, monotonic_deadline(grant->expires_at));
        continue;
      }
      auto cidr = policy::parse_cidr(grant->address);
      if (!cidr) continue;
      // An inbound grant opens the sandbox's port to the peer: its key
      // carries the inbound bit, as the class's inbound rules do.
      Entry& entry = desired[Key{slot, cidr->family | (grant->inbound ? AGENTD_FAMILY_INBOUND : 0u), cidr->addr}];
      const uint8_t proto = grant->protocol == "udp" ? AGENTD_PROTO_UDP : AGENTD_PROTO_TCP;
      if (entry.ranges.size() < AGENTD_MAX_PORT_RANGES)
        entry.ranges.push_back({grant->port, grant->port, proto, AGENTD_ACTION_ALLOW, AGENTD_VERIFY_OFF, 0});
      else
        spdlog::warn("grant {}: more than {} ports granted to {} for {}; this one is not written", grant->id,
                     AGENTD_MAX_PORT_RANGES, sandbox.agent.str(), grant->address);
      entry.expires_ns = std::max(entry.expires_ns, monotonic_deadline(grant->expires_at));
    }
  }
  // Writes first, removals after: a grant that stays is never missing.
  // A write that fails (the map full) is counted and shown in status, not
  // only logged: the operator sees a grant the kernel does not hold.
  std::set<std::pair<uint32_t, std::string>> names_failed;
  size_t failed = 0;
  for (const auto& [key, until] : names)
    if (auto st = maps_.put_name_grant(key.first, key.second, until); !st) {
      if (grant_write_failures_++ % 1000 == 0) spdlog::error("writing a name grant: {}", st.error().describe());
      names_failed.insert(key);
    }
  if (auto granted = maps_.granted_names(); granted) {
    std::set<std::vector<uint8_t>> wanted;
    for (const auto& [key, until] : names) {
      const auto k = policy::make_name_key(AGENTD_NAME_GRANT_SCOPE | key.first, key.second);
      wanted.insert(
          std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(&k), reinterpret_cast<const uint8_t*>(&k + 1)));
    }
    for (const auto& k : *granted)
      if (!wanted.contains(
              std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(&k), reinterpret_cast<const uint8_t*>(&k + 1))))
        if (auto st = maps_.delete_name(k); !st) spdlog::error("{}", st.error().describe());
  } else {
    spdlog::error("{}", granted.error().describe());
  }
  for (const auto& [key, entry] : desired) {
    const auto value = bpf::make_learned_value(entry.expires_ns, bpf::make_rule_value(entry.ranges));
    if (auto st = maps_.put_grant(bpf::make_learned_key(key), value); !st) {
      if (grant_write_failures_++ % 1000 == 0) spdlog::error("writing a grant: {}", st.error().describe());
      ++failed;
    }
  }
  auto existing = maps_.grants();
  if (!existing) {
    spdlog::error("{}", existing.error().describe());
    return;
  }
  for (const auto& [k, v] : *existing) {
    if (!desired.contains(bpf::learned_key_of(k)))
      if (auto st = maps_.delete_grant(k); !st) spdlog::error("{}", st.error().describe());
  }
  kernel_entries_ = desired.size() + names.size() - failed - names_failed.size();
}

bool ApprovalService::NameGrant::opens(uint16_t port) const {
  if (ports.empty()) return true;
  for (const auto& r : ports)
    if (port >= r.lo && port <= r.hi) return true;
  return false;
}

// Several grants may open one name (an agent's and its team's): the name
// resolves while any lives, and its addresses open on the ports of all of
// them; when one ends, the learned entries are judged again
// (on_name_grants_changed), so the ports shrink back on time. Grants that
// open different ports carry the earliest end into the kernel: with
// agentd stopped, the union closes when its first part should (fail
// closed), not when its last does.
std::optional<ApprovalService::NameGrant> ApprovalService::name_grant(const policy::AgentName& agent,
                                                                      std::string_view name) const {
  std::optional<NameGrant> found;
  bool every_port = false, same_ports = true;
  std::optional<std::vector<policy::PortRange>> first_ports;
  std::vector<policy::PortRange> ports;
  uint64_t earliest = AGENTD_NEVER_EXPIRES;
  for (const auto* grant : book_.grants_covering(agent)) {
    if (!grant->is_name() || grant->host != name) continue;
    if (grant->ports.empty()) every_port = true;
    ports.insert(ports.end(), grant->ports.begin(), grant->ports.end());
    const auto mine = policy::merge_port_ranges(grant->ports);
    if (!first_ports) first_ports = mine;
    same_ports = same_ports && mine.size() == first_ports->size() &&
                 std::equal(mine.begin(), mine.end(), first_ports->begin(),
                            [](const auto& a, const auto& b) { return a.lo == b.lo && a.hi == b.hi; });
    const uint64_t until = monotonic_deadline(grant->expires_at);
    earliest = std::min(earliest, until);
    if (found && found->until_ns >= until) continue;  // the one that lasts longest
    found = NameGrant{
        fmt::format("granted by grant {} ({} {}, by {}, {}, {})", grant->id, approvals::scope_name(grant->scope),
                    grant->subject, grant->created_by,
                    grant->expires_at ? "until " + approvals::time_text(*grant->expires_at) : std::string("permanent"),
                    grant->opens()),
        until};
  }
  if (!found) return found;
  if (!same_ports) found->until_ns = earliest;
  if (!every_port) {
    found->ports = policy::merge_port_ranges(std::move(ports));
    // What one kernel value holds, as the DNS proxy writes it (answer()
    // refuses a grant past it; restored grants may still hold more).
    if (found->ports.size() > AGENTD_MAX_PORT_RANGES) found->ports.resize(AGENTD_MAX_PORT_RANGES);
  }
  return found;
}

std::optional<std::string> ApprovalService::explain(const policy::AgentName& agent,
                                                    const policy::Destination& dest) const {
  const std::string proto = dest.proto_bit == AGENTD_PROTO_UDP ? "udp" : "tcp";
  for (const auto* grant : book_.grants_covering(agent)) {
    auto cidr = policy::parse_cidr(grant->address);
    if (!cidr || cidr->family != dest.family || cidr->addr != dest.addr || grant->port != dest.port ||
        grant->protocol != proto || grant->inbound != dest.inbound)
      continue;
    return fmt::format(
        "allowed by grant {} ({} {}, by {}, {})", grant->id, approvals::scope_name(grant->scope), grant->subject,
        grant->created_by,
        grant->expires_at ? "until " + approvals::time_text(*grant->expires_at) : std::string("permanent"));
  }
  return std::nullopt;
}

// Folds change with every folded denial; watchers hear of each changed
// fold once a tick, and of a fold whose time ran out.
void ApprovalService::tell_folds(approvals::Time now) {
  for (const auto& fold : folds_.expire(now)) {
    audit({now,
           "fold",
           "expired",
           "agentd",
           fold.sandbox,
           "",
           "",
           0,
           "",
           {{"destinations", fold.destinations}, {"denials", fold.denials}, {"why", fold.why}}});
    broadcast({{"event", "fold_expired"}, {"fold", approvals::fold_to_json(fold, false)}}, tenant_of(fold.sandbox));
  }
  for (const auto* fold : folds_.take_changed())
    broadcast({{"event", "folded"}, {"fold", approvals::fold_to_json(*fold, false)}}, tenant_of(fold->sandbox));
}

json ApprovalService::status() const {
  json pending_by_sandbox = json::object();
  for (const auto& [sandbox, n] : book_.index().pending_by_sandbox()) pending_by_sandbox[sandbox] = n;
  const auto counts = store_->counts();
  const auto& limits = book_.index().limits();
  return {{"pending_requests", book_.index().pending_total()},
          // Answered and expired requests kept in memory (the store keeps all).
          {"in_memory",
           {{"requests", book_.requests().size()},
            {"decided_per_sandbox", limits.decided_per_sandbox},
            {"silenced_per_sandbox", limits.silenced_per_sandbox}}},
          {"pending_by_sandbox", std::move(pending_by_sandbox)},
          // The OCSF copy sent to syslog, and what the receiver could not
          // take (the store has every event regardless).
          {"audit_syslog", siem_syslog_ ? json{{"socket", siem_syslog_->socket_path().string()},
                                               {"sent", siem_syslog_->sent()},
                                               {"dropped", siem_syslog_->dropped()}}
                                        : json(nullptr)},
          {"requests_created", requests_created_},
          {"requests_folded", requests_folded_},
          // Pending requests a reload or grant allowed (settle_pending), and
          // denials that arrived after their destination was allowed.
          {"requests_settled", requests_settled_},
          {"requests_already_allowed", requests_already_allowed_},
          {"folds", folds_.all().size()},
          {"caps", {{"per_sandbox", caps_.per_sandbox}, {"per_tenant", caps_.per_tenant}}},
          {"grants", book_.grants().size()},
          {"fleet_grants", fleet_status()},
          {"grant_entries", kernel_entries_},
          // Each tenant's share of the kernel's grant entries (address and
          // name grants, one per sandbox covered).
          {"grant_limit",
           {{"per_tenant", grant_budget_.per_tenant()},
            {"by_tenant", entries_by_tenant_},
            {"over_limit", entries_over_limit_},
            {"refused", grants_refused_over_limit_}}},
          {"grant_write_failures", grant_write_failures_},
          {"watchers", watchers_.size()},
          {"roles", roles_.bindings().size()},
          {"store",
           {{"file", store_->file().string()},
            {"bytes", counts.bytes},
            {"audit_rows", counts.audit_rows},
            {"file_bytes", counts.file_bytes},
            {"written", counts.written},
            {"pruned", counts.pruned},
            {"pruned_for_size", counts.pruned_for_size},  // audit events, as before by_kind came
            {"pruned_for_size_by_kind",
             {{"audit", counts.pruned_for_size},
              {"requests", counts.requests_pruned_for_size},
              {"grants", counts.grants_pruned_for_size}}},
            {"errors", store_errors_},
            {"denial_rows",
             {{"per_second_max", denial_rows_.per_second()},
              {"last_second", denial_rows_.last_second()},
              {"busiest_second", denial_rows_.max_second()},
              {"not_stored", denial_rows_.skipped_total()},
              // What one sandbox may store a second now, and among how many.
              {"share_per_sandbox", denial_rows_.share()},
              {"sandboxes_writing", denial_rows_.writers()}}},
            {"max_age", format_duration(store_->retention().max_age)},
            {"max_bytes", store_->retention().max_bytes}}}};
}

}  // namespace agentd::daemon
