#include "agentd/approvals/book.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "agentd/common/duration.hpp"
#include "agentd/events/denial_record.hpp"
#include "agentd/policy/ports.hpp"

namespace agentd::approvals {

std::string scope_name(Scope scope) {
  switch (scope) {
    case Scope::agent:
      return "agent";
    case Scope::team:
      return "team";
    case Scope::tenant:
      return "tenant";
  }
  return "agent";
}

std::optional<Scope> parse_scope(std::string_view text) {
  if (text == "agent") return Scope::agent;
  if (text == "team") return Scope::team;
  if (text == "tenant") return Scope::tenant;
  return std::nullopt;
}

std::string state_name(RequestState state) {
  switch (state) {
    case RequestState::pending:
      return "pending";
    case RequestState::approved:
      return "approved";
    case RequestState::denied:
      return "denied";
    case RequestState::expired:
      return "expired";
  }
  return "pending";
}

std::optional<RequestState> parse_state(std::string_view text) {
  for (auto s : {RequestState::pending, RequestState::approved, RequestState::denied, RequestState::expired})
    if (state_name(s) == text) return s;
  return std::nullopt;
}

std::string Target::str() const {
  if (is_name()) return fmt::format("{} -> {} (DNS)", sandbox, name);
  const bool v6 = address.find(':') != std::string::npos;
  if (inbound) return fmt::format("{} <- {} to port {}/{}", sandbox, address, port, protocol);
  return fmt::format("{} -> {}{}{}:{}/{}", sandbox, v6 ? "[" : "", address, v6 ? "]" : "", port, protocol);
}

std::string Grant::opens() const {
  if (!is_name()) return fmt::format("port {}/{}", port, protocol);
  if (ports.empty()) return "every port";
  const std::string list = policy::port_list_text(ports);
  return (ports.size() == 1 && ports[0].lo == ports[0].hi ? "port " : "ports ") + list;
}

std::string Grant::tenant() const { return subject.substr(0, subject.find('/')); }

std::string FleetOrigin::str() const { return fmt::format("{}/{}", host, id); }

bool Grant::covers(const policy::AgentName& agent) const {
  switch (scope) {
    case Scope::agent:
      return subject == agent.str();
    case Scope::team:
      return subject == agent.tenant + "/" + agent.team;
    case Scope::tenant:
      return subject == agent.tenant;
  }
  return false;
}

namespace {

// The subject a scope names for the agent of a request.
Result<std::string> subject_of(const std::string& sandbox, Scope scope) {
  auto agent = policy::parse_agent_name(sandbox);
  if (!agent) return agent.error();
  switch (scope) {
    case Scope::agent:
      return agent->str();
    case Scope::team:
      return agent->tenant + "/" + agent->team;
    case Scope::tenant:
      return agent->tenant;
  }
  return agent->str();
}

}  // namespace

Book::NoteResult Book::note_denial(const Denial& denial, const policy::ApprovalSettings& settings) {
  if (!settings.prompt) return {};
  if (auto it = latest_.find(denial.target); it != latest_.end()) {
    Request& latest = requests_.at(it->second);
    const bool silent =
        latest.state == RequestState::denied && latest.silent_until && denial.time < *latest.silent_until;
    if (latest.state == RequestState::pending || silent) {
      change(latest, [&](Request& r) {
        r.count += denial.count;
        r.last_seen = std::max(r.last_seen, denial.time);
        r.process = denial.process;
        if (!denial.host.empty()) r.host = denial.host;
      });
      return {silent ? Noted::silenced : Noted::counted, &latest};
    }
  }
  Request request;
  request.id = next_request_id_++;
  request.target = denial.target;
  request.host = denial.host;
  request.process = denial.process;
  request.count = denial.count;
  request.first_seen = request.last_seen = denial.time;
  request.expires_at = denial.time + settings.request_expiry;
  latest_[request.target] = request.id;
  auto [it, inserted] = requests_.emplace(request.id, std::move(request));
  index_.add(it->second);
  return {Noted::created, &it->second};
}

Result<Answered> Book::decide(uint64_t request_id, const Decision& decision, const std::string& who, Time now,
                              const policy::ApprovalSettings& settings) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return make_error("no request {}", request_id);
  Request& request = it->second;
  if (request.state != RequestState::pending)
    return make_error("request {} is already {}{}", request_id, state_name(request.state),
                      request.answered_by.empty() ? "" : " (by " + request.answered_by + ")");
  Answered answered;
  if (!decision.allow) {
    const auto silence = decision.duration.value_or(settings.silence_after_deny);
    change(request, [&](Request& r) {
      r.answered_by = who;
      r.answered_at = now;
      r.state = RequestState::denied;
      r.silent_until = now + silence;
      r.answer = fmt::format("deny (repeats silent for {})", format_duration(silence));
    });
    answered.request = request;
    keep_bounds(answered.request.target.sandbox);
    return answered;
  }
  auto made = grant_for(request_id, decision, who, now, settings);
  if (!made) return made.error();
  Grant grant = std::move(*made);
  ++next_grant_id_;
  change(request, [&](Request& r) {
    r.answered_by = who;
    r.answered_at = now;
    r.state = RequestState::approved;
    r.grant_id = grant.id;
    r.answer = fmt::format(
        "allow {} {}{}", scope_name(decision.scope),
        decision.permanent
            ? std::string("permanently")
            : "for " + format_duration(std::chrono::duration_cast<std::chrono::seconds>(*grant.expires_at - now)),
        grant.is_name() && !grant.ports.empty() ? " on " + grant.opens() : "");
  });
  grants_[grant.id] = grant;
  answered.request = request;
  answered.grant = std::move(grant);
  keep_bounds(answered.request.target.sandbox);
  return answered;
}

Result<Grant> Book::grant_for(uint64_t request_id, const Decision& decision, const std::string& who, Time now,
                              const policy::ApprovalSettings& settings) const {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return make_error("no request {}", request_id);
  const Request& request = it->second;
  if (request.state != RequestState::pending)
    return make_error("request {} is already {}{}", request_id, state_name(request.state),
                      request.answered_by.empty() ? "" : " (by " + request.answered_by + ")");
  if (!decision.allow) return make_error("a deny makes no grant");
  if (!decision.ports.empty() && !request.target.is_name())
    return make_error("request {} is for port {}/{} alone: ports narrow a name request's grant only", request_id,
                      request.target.port, request.target.protocol);
  if (decision.ports.size() > kMaxNameGrantPorts)
    return make_error("{} ports or ranges: a grant holds at most {}", decision.ports.size(), kMaxNameGrantPorts);
  auto subject = subject_of(request.target.sandbox, decision.scope);
  if (!subject) return subject.error();
  Grant grant;
  grant.id = next_grant_id_;
  grant.scope = decision.scope;
  grant.subject = *subject;
  grant.address = request.target.address;
  grant.host = request.target.is_name() ? request.target.name : request.host;
  grant.port = request.target.port;
  grant.protocol = request.target.protocol;
  grant.inbound = request.target.inbound;
  grant.ports = decision.ports;
  if (!decision.permanent) grant.expires_at = now + decision.duration.value_or(settings.grant_duration);
  grant.created_by = who;
  grant.created_at = now;
  grant.request_id = request.id;
  return grant;
}

Result<Book::Reopened> Book::reopen(uint64_t request_id, Time now, const policy::ApprovalSettings& settings) {
  auto it = requests_.find(request_id);
  if (it == requests_.end())
    return make_error(
        "no request {} in memory (answered long ago, its record is in the audit trail; "
        "the agent's next try asks again)",
        request_id);
  Request& request = it->second;
  if (request.state == RequestState::pending) return make_error("request {} is pending already", request_id);
  if (request.state == RequestState::approved && !request.grant_id)
    return make_error("request {} needed no answer ({}): nothing to take back", request_id, request.answer);
  if (auto latest = latest_.find(request.target); latest != latest_.end() && latest->second != request_id)
    return make_error("request {} is about the same destination and newer: answer or reopen that one", latest->second);
  Reopened reopened;
  if (request.grant_id)
    if (auto grant = grants_.find(*request.grant_id); grant != grants_.end()) {
      reopened.revoked = std::move(grant->second);
      grants_.erase(grant);
    }
  change(request, [&](Request& r) {
    r.state = RequestState::pending;
    r.answered_by.clear();
    r.answered_at.reset();
    r.answer.clear();
    r.silent_until.reset();
    r.grant_id.reset();
    r.expires_at = now + settings.request_expiry;
  });
  reopened.request = request;
  return reopened;
}

std::vector<Request> Book::expire_requests(Time now) {
  std::vector<Request> expired;
  std::set<std::string> sandboxes;
  for (uint64_t id : index_.due(now)) {
    Request& request = requests_.at(id);
    change(request, [&](Request& r) {
      r.state = RequestState::expired;
      r.answered_at = now;
      r.answer = "expired unanswered";
    });
    expired.push_back(request);
    sandboxes.insert(request.target.sandbox);
  }
  for (const auto& sandbox : sandboxes) keep_bounds(sandbox);
  // In id order, as they were made.
  std::sort(expired.begin(), expired.end(), [](const Request& a, const Request& b) { return a.id < b.id; });
  return expired;
}

std::vector<Request> Book::settle(const std::function<std::string(const Request&)>& allowed_because, Time now) {
  std::vector<Request> settled;
  std::set<std::string> sandboxes;
  for (uint64_t id : index_.pending_ids()) {
    Request& request = requests_.at(id);
    std::string why = allowed_because(request);
    if (why.empty()) continue;
    change(request, [&](Request& r) {
      r.state = RequestState::approved;
      r.answered_by = "agentd";
      r.answered_at = now;
      r.answer = std::move(why);
    });
    settled.push_back(request);
    sandboxes.insert(request.target.sandbox);
  }
  for (const auto& sandbox : sandboxes) keep_bounds(sandbox);
  return settled;
}

const Grant* Book::grant_opening(const Target& target, const policy::AgentName& agent,
                                 std::optional<uint64_t> besides) const {
  for (const auto& [id, grant] : grants_) {
    if (!grant.covers(agent) || id == besides) continue;
    if (target.is_name() ? grant.is_name() && grant.host == target.name
                         : !grant.is_name() && grant.address == target.address && grant.port == target.port &&
                               grant.protocol == target.protocol && grant.inbound == target.inbound)
      return &grant;
  }
  return nullptr;
}

std::vector<Grant> Book::expire_grants(Time now) {
  std::vector<Grant> expired;
  for (auto it = grants_.begin(); it != grants_.end();) {
    if (it->second.expires_at && *it->second.expires_at <= now) {
      expired.push_back(it->second);
      it = grants_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

void Book::set_origin(uint64_t grant_id, FleetOrigin origin) {
  if (auto it = grants_.find(grant_id); it != grants_.end()) it->second.origin = std::move(origin);
}

const Grant& Book::adopt(Grant grant) {
  grant.id = next_grant_id_++;
  const uint64_t id = grant.id;
  return grants_[id] = std::move(grant);
}

const Grant* Book::grant_from(const FleetOrigin& origin) const {
  for (const auto& [id, grant] : grants_)
    if (grant.origin == origin) return &grant;
  return nullptr;
}

Result<Grant> Book::revoke(uint64_t grant_id) {
  auto it = grants_.find(grant_id);
  if (it == grants_.end()) return make_error("no grant {}", grant_id);
  Grant grant = std::move(it->second);
  grants_.erase(it);
  return grant;
}

void Book::forget_old(Time now) {
  for (uint64_t id : index_.to_forget(now)) forget(id);
}

void Book::keep_bounds(const std::string& sandbox) {
  for (uint64_t id : index_.to_forget(sandbox)) forget(id);
}

void Book::forget(uint64_t request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  const Request& r = it->second;
  index_.remove(r);
  if (auto latest = latest_.find(r.target); latest != latest_.end() && latest->second == r.id) latest_.erase(latest);
  requests_.erase(it);
}

const Request* Book::pending(const Target& target) const {
  auto it = latest_.find(target);
  if (it == latest_.end()) return nullptr;
  const Request& latest = requests_.at(it->second);
  return latest.state == RequestState::pending ? &latest : nullptr;
}

size_t Book::pending_names(const std::string& sandbox) const { return index_.pending_names(sandbox); }

Book::PendingCounts Book::pending_counts(const std::string& sandbox) const {
  return {index_.pending(sandbox), index_.pending_in_tenant(sandbox.substr(0, sandbox.find('/')))};
}

const Request* Book::silenced(const Target& target, Time time) const {
  auto it = latest_.find(target);
  if (it == latest_.end()) return nullptr;
  const Request& latest = requests_.at(it->second);
  const bool silent = latest.state == RequestState::denied && latest.silent_until && time < *latest.silent_until;
  return silent ? &latest : nullptr;
}

bool Book::takes(const Target& target, Time time) const {
  auto it = latest_.find(target);
  if (it == latest_.end()) return false;
  const Request& latest = requests_.at(it->second);
  return latest.state == RequestState::pending ||
         (latest.state == RequestState::denied && latest.silent_until && time < *latest.silent_until);
}

const Request* Book::request(uint64_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : &it->second;
}

std::vector<const Grant*> Book::grants_covering(const policy::AgentName& agent) const {
  std::vector<const Grant*> covering;
  for (const auto& [id, grant] : grants_)
    if (grant.covers(agent)) covering.push_back(&grant);
  return covering;
}

void Book::restore(std::vector<Request> requests, std::vector<Grant> grants, uint64_t max_request_id,
                   uint64_t max_grant_id) {
  next_request_id_ = std::max(next_request_id_, max_request_id + 1);
  next_grant_id_ = std::max(next_grant_id_, max_grant_id + 1);
  std::set<std::string> sandboxes;
  for (auto& r : requests) {
    next_request_id_ = std::max(next_request_id_, r.id + 1);
    auto& latest = latest_[r.target];
    latest = std::max(latest, r.id);
    sandboxes.insert(r.target.sandbox);
    if (auto it = requests_.find(r.id); it != requests_.end()) index_.remove(it->second);
    index_.add(r);
    requests_[r.id] = std::move(r);
  }
  for (const auto& sandbox : sandboxes) keep_bounds(sandbox);
  for (auto& g : grants) {
    next_grant_id_ = std::max(next_grant_id_, g.id + 1);
    grants_[g.id] = std::move(g);
  }
}

}  // namespace agentd::approvals
