// The approval state machine, pure: denials become requests (one per
// sandbox, destination, port and protocol), operators answer them, answers
// become grants (for a time or for good, for the agent, its team or its
// tenant), and time makes requests and grants expire. No kernel, no
// store: the daemon persists what changes and writes grants to the maps.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/approvals/request_index.hpp"
#include "agentd/common/result.hpp"
#include "agentd/policy/approval_settings.hpp"
#include "agentd/policy/model.hpp"

namespace agentd::approvals {

using Clock = std::chrono::system_clock;
using Time = Clock::time_point;

enum class Scope { agent, team, tenant };
std::string scope_name(Scope scope);
std::optional<Scope> parse_scope(std::string_view text);

// The process that was denied, as the kernel saw it.
struct Process {
  uint32_t pid = 0;
  uint32_t uid = 0;
  std::string comm;
  std::string exe;  // empty when it could not be read (the process has gone)
};

// The protocol of a name request: the DNS proxy refused a name, so there
// is no address yet; granting it allows the name as a host rule would.
inline constexpr const char* kNameProtocol = "dns";

// What a request is about: the same for every repeat of one denial.
struct Target {
  std::string sandbox;   // tenant/team/agent
  std::string address;   // "198.51.100.20", "2001:db8::1"; empty for a name
  uint16_t port = 0;     // 0 for a name
  std::string protocol;  // "tcp", "udp", or kNameProtocol
  std::string name;      // a name request's name ("pypi.org"), else empty
  // A peer that tried to connect or send into the sandbox: then address
  // is the peer's and port the sandbox's own (judged by `inbound:` rules).
  bool inbound = false;
  auto tie() const { return std::tie(sandbox, address, port, protocol, name, inbound); }
  bool operator<(const Target& other) const { return tie() < other.tie(); }
  bool operator==(const Target& other) const { return tie() == other.tie(); }
  bool is_name() const { return protocol == kNameProtocol; }
  // "acme/eng/coder-1 -> 198.51.100.20:80/tcp", "acme/eng/coder-1 -> pypi.org (DNS)",
  // "acme/eng/coder-1 <- 198.51.100.20 to port 8080/tcp"
  std::string str() const;
};

struct Denial {
  Target target;
  std::string host;  // the name the address was learned from, when known
  Process process;
  Time time;
  uint64_t count = 1;  // this denial plus identical ones the kernel held back
};

enum class RequestState { pending, approved, denied, expired };
std::string state_name(RequestState state);
std::optional<RequestState> parse_state(std::string_view text);

struct Request {
  uint64_t id = 0;
  Target target;
  std::string host;
  Process process;     // the latest denied process
  uint64_t count = 0;  // denials folded into this request
  Time first_seen, last_seen, expires_at;
  RequestState state = RequestState::pending;
  std::string answered_by;  // "root (uid 0)"
  std::optional<Time> answered_at;
  std::string answer;                // "allow team for 1h", "deny (silent for 15m)"
  std::optional<Time> silent_until;  // denied: repeats stay quiet until then
  std::optional<uint64_t> grant_id;
};

// Where a fleet grant (README, "Fleet") was made: the host that made it and
// its id there, which name its key in etcd. A grant with an origin of this
// host is published; one with another host's is that host's, mirrored.
struct FleetOrigin {
  std::string host;
  uint64_t id = 0;
  bool operator==(const FleetOrigin&) const = default;
  std::string str() const;  // "host-1/3"
};

struct Grant {
  uint64_t id = 0;
  Scope scope = Scope::agent;
  std::string subject;  // "acme/eng/coder-1", "acme/eng" or "acme"
  std::string address;  // empty for a name grant
  std::string host;     // a name grant's name; else the name the address was learned from
  uint16_t port = 0;
  std::string protocol;  // kNameProtocol: the name resolves, its addresses open on `ports`
  // A name grant's ports (any protocol): empty for every port. An address
  // grant is for `port` alone.
  std::vector<policy::PortRange> ports;
  bool inbound = false;            // opens `port` of the sandbox to the peer `address`, not egress
  std::optional<Time> expires_at;  // none: permanent
  std::string created_by;
  Time created_at;
  uint64_t request_id = 0;
  std::optional<FleetOrigin> origin;  // none: this host's alone

  std::string tenant() const;  // the subject's first part
  bool covers(const policy::AgentName& agent) const;
  bool is_name() const { return protocol == kNameProtocol; }
  // What it opens, as the prompt and `grants list` say it: "port 80/tcp",
  // "every port", "ports 80,443".
  std::string opens() const;
};

// A name grant holds at most this many ports or ranges (the kernel's
// flattened rule value holds AGENTD_MAX_PORT_RANGES).
inline constexpr size_t kMaxNameGrantPorts = 8;

struct Decision {
  bool allow = false;
  Scope scope = Scope::agent;
  // allow: how long (none with `permanent`: the tenant's grant_duration);
  // deny: how long repeats stay silent (none: the tenant's silence_after_deny).
  std::optional<std::chrono::seconds> duration;
  bool permanent = false;
  // allow of a name request: the ports its addresses open on (empty: every
  // port). An address request is about one port already.
  std::vector<policy::PortRange> ports;
};

struct Answered {
  Request request;
  std::optional<Grant> grant;
};

class Book {
 public:
  explicit Book(RequestIndex::Limits limits = {}) : index_(limits) {}

  enum class Noted { created, counted, silenced, off };
  struct NoteResult {
    Noted what = Noted::off;
    const Request* request = nullptr;  // the request the denial went to, if any
  };

  // A denial that no rule decided. Folds into the pending request for its
  // target, stays quiet while a deny of it is silent, or opens a request.
  NoteResult note_denial(const Denial& denial, const policy::ApprovalSettings& settings);
  // An operator's answer; fails for an unknown or already answered request.
  Result<Answered> decide(uint64_t request_id, const Decision& decision, const std::string& who, Time now,
                          const policy::ApprovalSettings& settings);
  // The grant an allow of pending request `request_id` would make, with
  // the id it would get; nothing changes (decide makes it). Lets the
  // daemon check the grant against its budgets before anything is done.
  Result<Grant> grant_for(uint64_t request_id, const Decision& decision, const std::string& who, Time now,
                          const policy::ApprovalSettings& settings) const;
  // An answered or expired request asked again, as an operator corrects a
  // decision: pending once more (for the tenant's request time from now),
  // a deny's silence over, an approval's grant removed and returned for
  // the caller to end in the store and the kernel. Refused for a pending
  // request, one agentd settled (a rule or another grant allows it: there
  // is nothing to take back), and one whose destination has had a newer
  // request since (that one is the one to answer).
  struct Reopened {
    Request request;
    std::optional<Grant> revoked;
  };
  Result<Reopened> reopen(uint64_t request_id, Time now, const policy::ApprovalSettings& settings);
  // Pending requests past their time become expired; they are returned.
  std::vector<Request> expire_requests(Time now);
  // Pending requests that something other than an answer now allows (a
  // reload, a grant made for another request): `allowed_because` says
  // why, or "" when it does not allow it. Each one it allows is approved
  // by "agentd" with that reason as its answer, and returned; no grant is
  // made, what allows it is one already.
  std::vector<Request> settle(const std::function<std::string(const Request&)>& allowed_because, Time now);
  // A live grant that opens `target` to `agent`: the same address, port,
  // protocol and direction, or for a name request the same name.
  // `besides`: a grant not to count.
  const Grant* grant_opening(const Target& target, const policy::AgentName& agent,
                             std::optional<uint64_t> besides = std::nullopt) const;
  // The denied request whose silence still covers `target` at `time`.
  const Request* silenced(const Target& target, Time time) const;
  // Grants past their time are removed and returned.
  std::vector<Grant> expire_grants(Time now);
  Result<Grant> revoke(uint64_t grant_id);
  // Marks grant `grant_id` as the fleet's (it was just made here, and is
  // about to be published under `origin`).
  void set_origin(uint64_t grant_id, FleetOrigin origin);
  // Another host's grant, mirrored here under an id of this host's; its
  // `id` is ignored. Returns the grant as kept.
  const Grant& adopt(Grant grant);
  // The grant made under `origin`, mirrored or this host's own.
  const Grant* grant_from(const FleetOrigin& origin) const;
  // Answered and expired requests that are neither silent nor recent
  // leave memory (the store keeps them); request_index.hpp bounds them by
  // number too, at every change.
  void forget_old(Time now);

  const Request* request(uint64_t id) const;
  // The pending request about `target`, if there is one.
  const Request* pending(const Target& target) const;
  // How many name requests of `sandbox` are pending.
  size_t pending_names(const std::string& sandbox) const;
  // Pending requests of every kind, of `sandbox` and of its tenant: what
  // the caps of folds.hpp count.
  struct PendingCounts {
    size_t sandbox = 0, tenant = 0;
  };
  PendingCounts pending_counts(const std::string& sandbox) const;
  // Whether a denial of `target` at `time` goes to a request that exists
  // (pending, or denied and still silent) rather than opening a new one.
  bool takes(const Target& target, Time time) const;
  const std::map<uint64_t, Request>& requests() const { return requests_; }
  const RequestIndex& index() const { return index_; }
  const std::map<uint64_t, Grant>& grants() const { return grants_; }
  std::vector<const Grant*> grants_covering(const policy::AgentName& agent) const;

  // From the store, at start; ids continue above the largest ever given.
  void restore(std::vector<Request> requests, std::vector<Grant> grants, uint64_t max_request_id = 0,
               uint64_t max_grant_id = 0);

 private:
  // Every change of a request goes through here, so the index sees the
  // request as it was and as it is.
  template <typename Change>
  void change(Request& request, Change&& how) {
    index_.remove(request);
    how(request);
    index_.add(request);
  }
  void forget(uint64_t request_id);
  // What the sandbox's bounds say must go, after its requests changed.
  void keep_bounds(const std::string& sandbox);

  uint64_t next_request_id_ = 1, next_grant_id_ = 1;
  RequestIndex index_;
  std::map<uint64_t, Request> requests_;
  std::map<uint64_t, Grant> grants_;
  std::map<Target, uint64_t> latest_;  // target -> its latest request
};

std::string time_text(Time time);  // RFC 3339 UTC with milliseconds, as denial records
std::optional<Time> parse_time(std::string_view text);

// As the control API shows them, and as the store keeps them.
nlohmann::json request_to_json(const Request& request);
nlohmann::json grant_to_json(const Grant& grant);
Result<Request> request_from_json(const nlohmann::json& json);
Result<Grant> grant_from_json(const nlohmann::json& json);

}  // namespace agentd::approvals
