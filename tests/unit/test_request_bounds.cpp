// The book's memory is bounded by number, not only by time: a sandbox
// whose requests keep expiring keeps its newest decided ones, a deny's
// silence outlives the flood, and the pending counts the caps read are
// running counters that always equal a full count.
#include <catch2/catch.hpp>

#include <random>

#include <fmt/format.h>

#include "agentd/approvals/book.hpp"

using namespace agentd;
using namespace agentd::approvals;
using namespace std::chrono_literals;

namespace {

const Time t0 = Clock::from_time_t(1'700'000'000);

Denial denial(const std::string& sandbox, uint16_t port, Time at, bool name = false) {
  Denial d;
  d.target = name ? Target{sandbox, "", 0, kNameProtocol, fmt::format("n{}.example", port)}
                  : Target{sandbox, "198.51.100.20", port, "tcp"};
  d.process = {42, 1000, "curl", "/usr/bin/curl"};
  d.time = at;
  return d;
}

size_t held(const Book& book, const std::string& sandbox, RequestState state) {
  size_t n = 0;
  for (const auto& [id, r] : book.requests()) n += r.target.sandbox == sandbox && r.state == state;
  return n;
}

}  // namespace

TEST_CASE("a sandbox whose requests keep expiring keeps only its newest decided ones in memory") {
  Book book({.decided_per_sandbox = 8, .silenced_per_sandbox = 4, .keep = 24h});
  policy::ApprovalSettings settings;
  settings.request_expiry = 1min;
  // Another sandbox's one expired request is not the flood's to forget.
  book.note_denial(denial("acme/ops/b", 1, t0), settings);
  Time now = t0;
  for (uint16_t port = 100; port < 400; ++port) {
    now += 1s;
    book.note_denial(denial("acme/eng/a", port, now), settings);
    book.expire_requests(now);
  }
  CHECK(held(book, "acme/eng/a", RequestState::expired) == 8);
  CHECK(held(book, "acme/ops/b", RequestState::expired) == 1);
  // The newest stay: the last request is among them, the first is not.
  CHECK(book.takes(denial("acme/eng/a", 399, now).target, now));  // still pending: it has a minute
  CHECK(book.request(2) == nullptr);
  CHECK(book.index().pending("acme/eng/a") == 60);
  CHECK(book.pending_counts("acme/eng/a").tenant == 60);
}

TEST_CASE("a deny's silence outlives a flood of expiring requests, and ends on time") {
  Book book({.decided_per_sandbox = 4, .silenced_per_sandbox = 4, .keep = 1h});
  policy::ApprovalSettings settings;
  settings.request_expiry = 1s;
  // The id, not the pointer: the request is freed below (forget_old).
  const uint64_t first_id = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  REQUIRE(book.decide(first_id, {false, Scope::agent, 2h, false}, "root", t0, settings));
  Time now = t0;
  for (uint16_t port = 1000; port < 1500; ++port) {
    now += 10s;
    book.note_denial(denial("acme/eng/a", port, now), settings);
    book.expire_requests(now);
    book.forget_old(now);
  }
  CHECK(held(book, "acme/eng/a", RequestState::expired) <= 4);
  // Past the time kept for answers (1h), inside the silence (2h).
  REQUIRE(now > t0 + 1h);
  CHECK(book.note_denial(denial("acme/eng/a", 80, now), settings).what == Book::Noted::silenced);
  book.forget_old(t0 + 2h + 1s);
  CHECK(book.request(first_id) == nullptr);
  CHECK(book.note_denial(denial("acme/eng/a", 80, t0 + 2h + 2s), settings).what == Book::Noted::created);
}

TEST_CASE("past their own bound, the silences that end soonest go first") {
  Book book({.decided_per_sandbox = 4, .silenced_per_sandbox = 2, .keep = 1h});
  policy::ApprovalSettings settings;
  std::vector<uint64_t> ids;
  for (uint16_t port = 1; port <= 3; ++port) {
    auto noted = book.note_denial(denial("acme/eng/a", port, t0), settings);
    ids.push_back(noted.request->id);
  }
  // Silences of 3h, 1h, 2h: the one of 1h goes.
  REQUIRE(book.decide(ids[0], {false, Scope::agent, 3h, false}, "root", t0, settings));
  REQUIRE(book.decide(ids[1], {false, Scope::agent, 1h, false}, "root", t0, settings));
  REQUIRE(book.decide(ids[2], {false, Scope::agent, 2h, false}, "root", t0, settings));
  CHECK(book.request(ids[0]) != nullptr);
  CHECK(book.request(ids[1]) == nullptr);
  CHECK(book.request(ids[2]) != nullptr);
}

TEST_CASE("the running pending counts always equal a full count") {
  Book book({.decided_per_sandbox = 3, .silenced_per_sandbox = 2, .keep = 10min});
  policy::ApprovalSettings settings;
  settings.request_expiry = 30s;
  const std::vector<std::string> sandboxes = {"acme/eng/a", "acme/eng/b", "acme/ops/c", "globex/x/y"};
  std::mt19937 random(12345);  // NOLINT(cert-msc51-cpp): a fixed seed, so that a failure reproduces
  Time now = t0;
  for (int step = 0; step < 5000; ++step) {
    now += std::chrono::milliseconds(random() % 3000);
    const std::string& sandbox = sandboxes[random() % sandboxes.size()];
    switch (random() % 6) {
      case 0:
      case 1:
        book.note_denial(denial(sandbox, static_cast<uint16_t>(random() % 40), now, random() % 4 == 0), settings);
        break;
      case 2: {
        if (book.index().pending_total() == 0) break;
        const auto ids = book.index().pending_ids();
        const uint64_t id = ids[random() % ids.size()];
        const bool allow = random() % 2;
        (void)book.decide(id, {allow, Scope::agent, std::chrono::seconds(random() % 600), false}, "root", now,
                          settings);
        break;
      }
      case 3:
        book.expire_requests(now);
        break;
      case 4:
        book.settle([&](const Request& r) { return r.target.port % 7 == 0 ? "allowed" : ""; }, now);
        break;
      case 5:
        book.forget_old(now);
        break;
    }
    size_t total = 0;
    for (const auto& name : sandboxes) {
      size_t pending = 0, names = 0, tenant = 0;
      const std::string prefix = name.substr(0, name.find('/')) + "/";
      for (const auto& [id, r] : book.requests()) {
        if (r.state != RequestState::pending) continue;
        pending += r.target.sandbox == name;
        names += r.target.sandbox == name && r.target.is_name();
        tenant += r.target.sandbox.rfind(prefix, 0) == 0;
      }
      total += pending;
      REQUIRE(book.pending_counts(name).sandbox == pending);
      REQUIRE(book.pending_counts(name).tenant == tenant);
      REQUIRE(book.pending_names(name) == names);
      REQUIRE(held(book, name, RequestState::approved) + held(book, name, RequestState::expired) +
                  held(book, name, RequestState::denied) <=
              3 + 2);
    }
    REQUIRE(book.index().pending_total() == total);
  }
}
