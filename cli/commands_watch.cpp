// agentctl watch: the operator's prompt. Pending requests one at a time,
// oldest first, answered with one key; every watcher sees every answer.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "agentd/api/subscription.hpp"
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

class Prompt {
 public:
  Prompt(const Globals& g, Style style, AgentFilter filter) : g_(g), style_(style), filter_(std::move(filter)) {}

  // The watch's first answer; again after a reconnect, when it replaces
  // what was pending (answers given meanwhile are not missed).
  void load(const json& first) {
    who_ = json_text(first["who"]);
    can_answer_ = first.value("can_answer", false);
    pending_.clear();
    for (const auto& r : first["pending"])
      if (filter_.matches(json_text(r["sandbox"]))) pending_[r["id"].get<uint64_t>()] = r;
    if (first.contains("folds"))
      for (const auto& f : first["folds"]) on_fold(f);
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
      pending_[r["id"].get<uint64_t>()] = r;
      if (kind == "request") std::cout << (style_.redraw ? "" : "\a");  // a bell for a new question
    } else if (kind == "answered" || kind == "expired") {
      pending_.erase(r["id"].get<uint64_t>());
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
    const uint64_t id = (*current)["id"].get<uint64_t>();
    agentd::api::ApprovalsAnswerRequest request{id, true, {}};
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
    auto result = agentd::api::call(g_.socket, request.to_json());
    if (!result) note(style_.red(terminal_text(result.error().describe())));
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

  const Globals& g_;
  Style style_;
  AgentFilter filter_;
  std::string who_;
  bool can_answer_ = false;
  std::map<uint64_t, json> pending_;
  std::set<uint64_t> skipped_;
  std::set<std::string> folds_;  // sandboxes whose "more destinations" entry was shown
  std::vector<std::string> notes_;
};

}  // namespace

namespace {

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
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);

  RawTerminal terminal;
  Prompt prompt(g, Style::detect(), filter);
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
    if (fds[1].revents & POLLIN) {
      char keys[16];
      const ssize_t n = ::read(STDIN_FILENO, keys, sizeof(keys));
      if (n <= 0) break;  // stdin closed
      for (ssize_t i = 0; i < n && !g_stop; ++i) {
        if (keys[i] == '\n' || keys[i] == '\r') continue;
        if (!prompt.on_key(keys[i])) g_stop = 1;
      }
      changed = true;
    } else if (fds[1].revents & (POLLHUP | POLLERR)) {
      break;
    }
    if (changed && !g_stop) prompt.render();
  }
  std::cout << "\n";
  return 0;
}

}  // namespace agentctl
