#include "agentd/approvals/book.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "agentd/common/duration.hpp"
#include "agentd/events/denial_record.hpp"

namespace agentd::approvals {

std::string scope_name(Scope scope) {
  switch (scope) {
    case Scope::agent: return "agent";
    case Scope::team: return "team";
    case Scope::tenant: return "tenant";
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
    case RequestState::pending: return "pending";
    case RequestState::approved: return "approved";
    case RequestState::denied: return "denied";
    case RequestState::expired: return "expired";
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

std::string Grant::tenant() const { return subject.substr(0, subject.find('/')); }

bool Grant::covers(const policy::AgentName& agent) const {
  switch (scope) {
    case Scope::agent: return subject == agent.str();
    case Scope::team: return subject == agent.tenant + "/" + agent.team;
    case Scope::tenant: return subject == agent.tenant;
  }
  return false;
}

namespace {

// The subject a scope names for the agent of a request.
Result<std::string> subject_of(const std::string& sandbox, Scope scope) {
  auto agent = policy::parse_agent_name(sandbox);
  if (!agent) return agent.error();
  switch (scope) {
    case Scope::agent: return agent->str();
    case Scope::team: return agent->tenant + "/" + agent->team;
    case Scope::tenant: return agent->tenant;
  }
  return agent->str();
}

}  // namespace

Book::NoteResult Book::note_denial(const Denial& denial, const policy::ApprovalSettings& settings) {
  if (!settings.prompt) return {};
  if (auto it = latest_.find(denial.target); it != latest_.end()) {
    Request& latest = requests_.at(it->second);
    const bool silent = latest.state == RequestState::denied && latest.silent_until && denial.time < *latest.silent_until;
    if (latest.state == RequestState::pending || silent) {
      latest.count += denial.count;
      latest.last_seen = std::max(latest.last_seen, denial.time);
      latest.process = denial.process;
      if (!denial.host.empty()) latest.host = denial.host;
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
  request.answered_by = who;
  request.answered_at = now;
  Answered answered;
  if (!decision.allow) {
    const auto silence = decision.duration.value_or(settings.silence_after_deny);
    request.state = RequestState::denied;
    request.silent_until = now + silence;
    request.answer = fmt::format("deny (repeats silent for {})", format_duration(silence));
    answered.request = request;
    return answered;
  }
  auto subject = subject_of(request.target.sandbox, decision.scope);
  if (!subject) return subject.error();
  Grant grant;
  grant.id = next_grant_id_++;
  grant.scope = decision.scope;
  grant.subject = *subject;
  grant.address = request.target.address;
  grant.host = request.target.is_name() ? request.target.name : request.host;
  grant.port = request.target.port;
  grant.protocol = request.target.protocol;
  grant.inbound = request.target.inbound;
  if (!decision.permanent) grant.expires_at = now + decision.duration.value_or(settings.grant_duration);
  grant.created_by = who;
  grant.created_at = now;
  grant.request_id = request.id;
  request.state = RequestState::approved;
  request.grant_id = grant.id;
  request.answer = fmt::format("allow {} {}", scope_name(decision.scope),
                               decision.permanent ? std::string("permanently")
                                                  : "for " + format_duration(std::chrono::duration_cast<std::chrono::seconds>(
                                                                 *grant.expires_at - now)));
  grants_[grant.id] = grant;
  answered.request = request;
  answered.grant = std::move(grant);
  return answered;
}

std::vector<Request> Book::expire_requests(Time now) {
  std::vector<Request> expired;
  for (auto& [id, request] : requests_) {
    if (request.state == RequestState::pending && request.expires_at <= now) {
      request.state = RequestState::expired;
      request.answered_at = now;
      request.answer = "expired unanswered";
      expired.push_back(request);
    }
  }
  return expired;
}

std::vector<Request> Book::settle(const std::function<std::string(const Request&)>& allowed_because, Time now) {
  std::vector<Request> settled;
  for (auto& [id, request] : requests_) {
    if (request.state != RequestState::pending) continue;
    std::string why = allowed_because(request);
    if (why.empty()) continue;
    request.state = RequestState::approved;
    request.answered_by = "agentd";
    request.answered_at = now;
    request.answer = std::move(why);
    settled.push_back(request);
  }
  return settled;
}

const Grant* Book::grant_opening(const Target& target, const policy::AgentName& agent) const {
  for (const auto& [id, grant] : grants_) {
    if (!grant.covers(agent)) continue;
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

Result<Grant> Book::revoke(uint64_t grant_id) {
  auto it = grants_.find(grant_id);
  if (it == grants_.end()) return make_error("no grant {}", grant_id);
  Grant grant = std::move(it->second);
  grants_.erase(it);
  return grant;
}

void Book::forget_old(Time now, std::chrono::seconds keep) {
  for (auto it = requests_.begin(); it != requests_.end();) {
    const Request& r = it->second;
    const bool old = r.state != RequestState::pending && r.answered_at && *r.answered_at + keep < now &&
                     !(r.silent_until && *r.silent_until > now);
    if (old) {
      if (auto latest = latest_.find(r.target); latest != latest_.end() && latest->second == r.id) latest_.erase(latest);
      it = requests_.erase(it);
    } else {
      ++it;
    }
  }
}

const Request* Book::pending(const Target& target) const {
  auto it = latest_.find(target);
  if (it == latest_.end()) return nullptr;
  const Request& latest = requests_.at(it->second);
  return latest.state == RequestState::pending ? &latest : nullptr;
}

size_t Book::pending_names(const std::string& sandbox) const {
  return std::count_if(requests_.begin(), requests_.end(), [&](const auto& entry) {
    const Request& r = entry.second;
    return r.state == RequestState::pending && r.target.is_name() && r.target.sandbox == sandbox;
  });
}

Book::PendingCounts Book::pending_counts(const std::string& sandbox) const {
  const std::string tenant = sandbox.substr(0, sandbox.find('/'));
  PendingCounts counts;
  for (const auto& [id, r] : requests_) {
    if (r.state != RequestState::pending) continue;
    const std::string& s = r.target.sandbox;
    if (s == sandbox) ++counts.sandbox;
    if (s.size() > tenant.size() && s.compare(0, tenant.size(), tenant) == 0 && s[tenant.size()] == '/') ++counts.tenant;
  }
  return counts;
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
  for (auto& r : requests) {
    next_request_id_ = std::max(next_request_id_, r.id + 1);
    auto& latest = latest_[r.target];
    latest = std::max(latest, r.id);
    requests_[r.id] = std::move(r);
  }
  for (auto& g : grants) {
    next_grant_id_ = std::max(next_grant_id_, g.id + 1);
    grants_[g.id] = std::move(g);
  }
}


}  // namespace agentd::approvals
