// agentctl watch: the operator's prompt. Pending requests one at a time,
// oldest first, answered with one key; every watcher sees every answer.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/api/subscription.hpp"
#include "agentd/approvals/book.hpp"
#include "agentd/approvals/roles.hpp"
#include "agentd/fleet/answer_record.hpp"
#include "agentd/fleet/etcd_messages.hpp"
#include "commands_fleet.hpp"
#include "record_text.hpp"
#include "commands.hpp"
#include "terminal.hpp"
#include "terminal_text.hpp"
#include "watch_view.hpp"

namespace agentctl {
using nlohmann::json;

namespace {

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

void stop_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

// A request's place in the prompt: its host ("" for the local agentd) and
// its id there. With watch --fleet each request names its host.
using RequestKey = std::pair<std::string, uint64_t>;
RequestKey key_of(const json& r) {
  if (r.contains("fleet_host")) return {json_text(r["fleet_host"]), r.value("fleet_id", uint64_t{0})};
  return {"", r["id"].get<uint64_t>()};
}

// Where an answer goes: agentd's control socket, or etcd (watch --fleet).
// Returns why it could not be given, or nothing.
using AnswerSink = std::function<std::optional<std::string>(const json& r, const agentd::api::ApprovalsAnswerRequest&)>;

class Prompt {
 public:
  Prompt(Style style, AgentFilter filter, AnswerSink sink)
      : style_(style), filter_(std::move(filter)), sink_(std::move(sink)) {}

  // The watch's first answer; again after a reconnect, when it replaces
  // what was pending (answers given meanwhile are not missed).
  void load(const json& first) {
    who_ = json_text(first["who"]);
    can_answer_ = first.value("can_answer", false);
    pending_.clear();
    for (const auto& r : first["pending"])
      if (filter_.matches(json_text(r["sandbox"]))) pending_[key_of(r)] = r;
    if (first.contains("folds"))
      for (const auto& f : first["folds"]) on_fold(f);
  }

  // watch --fleet: what etcd holds now replaces what was pending; a
  // request that left is settled (answered or expired) on its host.
  void replace_pending(const std::vector<json>& list, const std::string& who) {
    who_ = who;
    can_answer_ = true;  // etcd's own access control decides (README, "Fleet")
    std::map<RequestKey, json> now;
    for (const auto& r : list)
      if (filter_.matches(json_text(r["sandbox"]))) now[key_of(r)] = r;
    for (const auto& [key, r] : pending_)
      if (!now.contains(key)) note(fmt_request(r) + " settled on " + key.first);
    for (auto it = skipped_.begin(); it != skipped_.end();) it = now.contains(*it) ? std::next(it) : skipped_.erase(it);
    pending_ = std::move(now);
  }

  // A sandbox past its request caps: told once, not at every denial it folds.
  void on_fold(const json& fold) {
    const std::string sandbox = json_text(fold["sandbox"]);
    if (!folds_.insert(sandbox).second) return;
    note(style_.yellow(sandbox + ": " + json_text(fold["summary"]) + " (agentctl approvals list --expand " + sandbox +
                       ")"));
  }

  void on_event(const json& event) {
    const std::string kind = json_text(event["event"]);
    const json& r = event.contains("request") ? event["request"] : json();
    if (!r.is_null() && !filter_.matches(json_text(r["sandbox"]))) return;  // --agent/--tenant
    if (kind == "request" || kind == "updated") {
      pending_[key_of(r)] = r;
      if (kind == "request") std::cout << (style_.redraw ? "" : "\a");  // a bell for a new question
    } else if (kind == "answered" || kind == "expired") {
      pending_.erase(key_of(r));
      note(kind == "expired"
               ? style_.yellow(fmt_request(r) + " expired unanswered")
               : fmt_request(r) + " answered by " + json_text(r["answered_by"]) + ": " + colour_answer(r));
    } else if (kind == "folded") {
      on_fold(event["fold"]);
    } else if (kind == "fold_expired") {
      folds_.erase(json_text(event["fold"]["sandbox"]));
      note(json_text(event["fold"]["sandbox"]) + ": " + json_text(event["fold"]["summary"]) + ", no longer tried");
    } else if (kind == "grant_ended") {
      const json& grant = event["grant"];
      note("grant " + json_text(grant["id"]) + " (" + flow_text(grant["subject"], grant) + ") " +
           json_text(event["why"]));
    } else if (kind == "grant_made") {  // another host's, mirrored here (README, "Fleet")
      const json& grant = event["grant"];
      const json& fleet = grant.contains("fleet") ? grant["fleet"] : json();
      note("grant " + json_text(grant["id"]) + " (" + flow_text(grant["subject"], grant) + ") made on " +
           (fleet.is_object() ? json_text(fleet["host"]) : std::string("another host")) + " by " +
           json_text(grant["created_by"]));
    }
  }

  void note(const std::string& line) {
    notes_.push_back(line);
    if (notes_.size() > 5) notes_.erase(notes_.begin());
  }

  // A key from the operator; false to stop.
  bool on_key(char key) {
    if (key == 'q' || key == 4 /* Ctrl-D */) return false;
    const json* current = current_request();
    if (!current) return true;
    const RequestKey id = key_of(*current);
    agentd::api::ApprovalsAnswerRequest request{id.second, true, {}};
    switch (key) {
      case 'a':
        request.terms.scope = "agent";
        break;
      case 'p':
        request.terms.scope = "agent";
        request.terms.permanent = true;
        break;
      case 't':
        request.terms.scope = "team";
        break;
      case 'n':
        request.terms.scope = "tenant";
        break;
      case 'd':
        request.allow = false;
        break;
      case 's':
        skipped_.insert(id);
        note(fmt_request(*current) + " skipped (still pending for the others)");
        // Nothing else waits: the skipped ones come back, oldest first.
        if (!current_request()) {
          skipped_.clear();
          note("no other request: the skipped ones come back");
        }
        return true;
      default:
        return true;
    }
    if (auto error = sink_(*current, request)) note(style_.red(terminal_text(*error)));
    // Success shows when the "answered" event comes back, as for every watcher.
    return true;
  }

  void render() const {
    std::cout << style_.clear();
    size_t waiting = 0;
    for (const auto& [id, r] : pending_) waiting += !skipped_.contains(id);
    std::cout << style_.bold("agentctl watch") << " as " << who_ << ": " << waiting << " pending"
              << (skipped_.empty() ? "" : ", " + std::to_string(pending_.size() - waiting) + " skipped") << "   "
              << style_.dim("(q quits)") << "\n\n";
    if (const json* r = current_request()) {
      std::cout << request_view(*r, style_);
      if (can_answer_)
        // Each key line fits 80 columns (an ssh session's default terminal).
        std::cout << "  " << style_.key('a') << " allow agent (tenant's default time)  " << style_.key('p')
                  << " allow agent permanently\n  " << style_.key('t') << " allow team  " << style_.key('n')
                  << " allow tenant\n  " << style_.key('d') << " deny (repeats stay silent)  " << style_.key('s')
                  << " skip  " << style_.key('q') << " quit\n";
      else
        std::cout << "  " << style_.dim("(viewer: you can watch, not answer)") << "  " << style_.key('s') << " skip  "
                  << style_.key('q') << " quit\n";
    } else {
      std::cout << style_.dim("waiting for requests...") << "\n";
    }
    if (!notes_.empty()) {
      std::cout << "\n";
      for (const auto& n : notes_) std::cout << "  " << n << "\n";
    }
    std::cout.flush();
  }

 private:
  const json* current_request() const {
    for (const auto& [id, r] : pending_)
      if (!skipped_.contains(id)) return &r;
    return nullptr;
  }
  std::string fmt_request(const json& r) const {
    return "request " + json_text(r["id"]) + " (" + flow_text(r["sandbox"], r) + ")";
  }
  std::string colour_answer(const json& r) const {
    const std::string answer = json_text(r["answer"]);
    return json_text(r["state"]) == "approved" ? style_.green(answer) : style_.red(answer);
  }

  Style style_;
  AgentFilter filter_;
  AnswerSink sink_;
  std::string who_;
  bool can_answer_ = false;
  std::map<RequestKey, json> pending_;
  std::set<RequestKey> skipped_;
  std::set<std::string> folds_;  // sandboxes whose "more destinations" entry was shown
  std::vector<std::string> notes_;
};

}  // namespace

namespace {

// The operator's keys waiting on stdin, to the prompt; false once stdin is
// closed (the prompt ends).
bool read_keys(Prompt& prompt) {
  char keys[16];
  const ssize_t n = ::read(STDIN_FILENO, keys, sizeof(keys));
  if (n <= 0) return false;
  for (ssize_t i = 0; i < n && !g_stop; ++i) {
    if (keys[i] == '\n' || keys[i] == '\r') continue;
    if (!prompt.on_key(keys[i])) g_stop = 1;
  }
  return true;
}

// The watch's subscription and its first line (the pending requests), or
// why not: agentd is not there, or refused.
struct Opened {  // NOLINT(bugprone-exception-escape): its members' moves do not throw; clang-tidy 14 cannot tell
  std::optional<agentd::api::Subscription> subscription;
  json first;
  std::string error;
};

Opened open_watch(const Globals& g) {
  Opened opened;
  auto subscription = agentd::api::Subscription::open(g.socket, agentd::api::ApprovalsWatchRequest{}.to_json());
  if (!subscription) {
    opened.error = subscription.error().describe();
    return opened;
  }
  for (;;) {  // the first line is the answer: the pending requests, or a refusal
    pollfd pfd{subscription->fd(), POLLIN, 0};
    ::poll(&pfd, 1, 30000);
    auto line = subscription->next();
    if (!line) {
      opened.error = line.error().describe();
      return opened;
    }
    if (*line) {
      opened.first = **line;
      break;
    }
  }
  if (!opened.first.value("ok", false)) {
    opened.error = "agentd: " + (opened.first.contains("error") ? json_text(opened.first["error"]) : "refused");
    return opened;
  }
  opened.subscription = std::move(*subscription);
  return opened;
}

}  // namespace

int watch(const Globals& g, const AgentFilter& filter) {
  if (auto why = filter.problem(); !why.empty()) {
    std::cerr << "agentctl: " << why << "\n";
    return 2;
  }
  Opened opened = open_watch(g);
  if (!opened.subscription) {
    std::cerr << "agentctl: " << terminal_text(opened.error) << "\n";
    return kExitFailure;
  }
  stop_on_signals();

  RawTerminal terminal;
  Prompt prompt(Style::detect(), filter,
                [&g](const json&, const agentd::api::ApprovalsAnswerRequest& request) -> std::optional<std::string> {
                  auto result = agentd::api::call(g.socket, request.to_json());
                  if (!result) return result.error().describe();
                  return std::nullopt;
                });
  prompt.load(opened.first["result"]);
  prompt.render();
  std::optional<agentd::api::Subscription> subscription = std::move(opened.subscription);
  std::string lost;  // while agentd is away: why
  while (!g_stop) {
    // agentd went away (a package upgrade restarts it): try again each
    // second, keys still work (q quits), and say so.
    if (!subscription) {
      Opened again = open_watch(g);
      if (again.subscription) {
        subscription = std::move(again.subscription);
        prompt.load(again.first["result"]);
        prompt.note("reconnected to agentd");
        lost.clear();
        prompt.render();
      }
    }
    pollfd fds[2] = {{subscription ? subscription->fd() : -1, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const int ready = ::poll(fds, 2, 1000);  // a second: the "expires in" countdown moves
    if (ready < 0 && errno != EINTR) break;
    bool changed = ready == 0;
    if (subscription && fds[0].revents) {
      for (;;) {
        auto line = subscription->next();
        if (!line) {
          lost = line.error().describe();
          prompt.note("agentd went away (" + terminal_text(lost) + "); reconnecting");
          subscription.reset();
          changed = true;
          break;
        }
        if (!*line) break;
        prompt.on_event(**line);
        changed = true;
      }
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!read_keys(prompt)) break;
      changed = true;
    }
    if (changed && !g_stop) prompt.render();
  }
  std::cout << "\n";
  return 0;
}

namespace {

// "alice (uid 1000) on ops-1": who answers, as this agentctl can tell.
std::string fleet_operator() {
  const auto who = agentd::approvals::identity_of(::getuid(), ::getgid());
  char host[256] = {};
  (void)::gethostname(host, sizeof(host) - 1);
  return who.str() + " on " + host;
}

// Every host's pending requests under <prefix>/requests/, as the prompt
// shows them: id "host/id", the host's own id kept in fleet_id. Expired
// ones (a host that went away with its requests) are left out.
agentd::Result<std::vector<json>> fleet_requests(EtcdConnection& conn) {
  const std::string prefix = conn.layout.requests_prefix();
  auto text = conn.client.call("/v3/kv/range",
                               agentd::fleet::range_request(prefix, agentd::fleet::range_end_of_prefix(prefix)));
  if (!text) return text.error();
  auto range = agentd::fleet::parse_range(*text);
  if (!range) return range.error();
  std::vector<json> list;
  const auto now = agentd::approvals::Clock::now();
  for (const auto& kv : range->kvs) {
    const std::string rest = kv.key.substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string::npos) continue;
    // Whoever may write to etcd wrote it: read as a request strictly and
    // shown as agentd would show one, never as it came.
    auto parsed = json::parse(kv.value, nullptr, false);
    auto request = parsed.is_object() ? agentd::approvals::request_from_json(parsed)
                                      : agentd::Result<agentd::approvals::Request>(agentd::make_error("not JSON"));
    if (!request || request->state != agentd::approvals::RequestState::pending || request->expires_at <= now) continue;
    json r = agentd::approvals::request_to_json(*request);
    const std::string host = rest.substr(0, slash);
    r["fleet_host"] = host;  // the key names the host, not what it wrote
    r["fleet_id"] = r["id"];
    r["id"] = host + "/" + json_text(r["id"]);
    list.push_back(std::move(r));
  }
  return list;
}

}  // namespace

int watch_fleet(const Globals& g, const AgentFilter& filter, const EtcdArgs& etcd) {
  (void)g;
  if (auto why = filter.problem(); !why.empty()) {
    std::cerr << "agentctl: " << why << "\n";
    return 2;
  }
  auto conn = connect_etcd(etcd);
  if (!conn) {
    std::cerr << "agentctl: " << terminal_text(conn.error().describe()) << "\n";
    return kExitFailure;
  }
  auto first = fleet_requests(*conn);
  if (!first) {
    std::cerr << "agentctl: " << terminal_text(first.error().describe()) << "\n";
    return kExitFailure;
  }
  const std::string who = fleet_operator();
  stop_on_signals();

  RawTerminal terminal;
  // An answer is a key the request's host takes and deletes; the prompt
  // moves on once the host's request leaves etcd.
  Prompt prompt(
      Style::detect(), filter,
      [&conn, &who](const json& r, const agentd::api::ApprovalsAnswerRequest& request) -> std::optional<std::string> {
        const std::string host = json_text(r["fleet_host"]);
        const std::string key = conn->layout.answer_key(host, request.id);
        auto text = conn->client.call(
            "/v3/kv/put", agentd::fleet::put_request(key, agentd::fleet::answer_record_value({request, who}), 0));
        if (!text) return text.error().describe();
        if (auto revision = agentd::fleet::parse_revision(*text); !revision) return revision.error().describe();
        return std::nullopt;
      });
  prompt.replace_pending(*first, who + " (fleet)");
  prompt.render();
  std::string lost;
  while (!g_stop) {
    pollfd in{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&in, 1, 500);  // etcd read again twice a second
    if (ready < 0 && errno != EINTR) break;
    if ((in.revents & (POLLIN | POLLHUP | POLLERR)) && !read_keys(prompt)) break;
    if (auto list = fleet_requests(*conn); list) {
      if (!lost.empty()) prompt.note("etcd answers again");
      lost.clear();
      prompt.replace_pending(*list, who + " (fleet)");
    } else if (lost.empty()) {
      lost = list.error().describe();
      prompt.note("etcd unreachable (" + terminal_text(lost) + "); retrying");
    }
    if (!g_stop) prompt.render();
  }
  std::cout << "\n";
  return 0;
}

}  // namespace agentctl
