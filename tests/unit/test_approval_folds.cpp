// Caps on pending approval requests, and the fold entry past them.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "agentd/approvals/book.hpp"
#include "agentd/approvals/folds.hpp"

using namespace agentd::approvals;
using namespace std::chrono_literals;

namespace {

const Time t0 = Clock::from_time_t(1'700'000'000);

Denial to(const std::string& sandbox, const std::string& address, uint16_t port, Time at) {
  Denial d;
  d.target = {sandbox, address, port, "tcp"};
  d.time = at;
  return d;
}

Denial name(const std::string& sandbox, const std::string& host, Time at) {
  Denial d;
  d.target = {sandbox, "", 0, kNameProtocol, host};
  d.host = host;
  d.time = at;
  return d;
}

// What ApprovalService::on_denial does with the book, the caps and the folds.
struct Desk {
  Book book;
  Folds folds;
  RequestCaps caps{4, 6};
  agentd::policy::ApprovalSettings settings;
  bool note(const Denial& d) {  // true: a request took it; false: folded
    if (!book.takes(d.target, d.time)) {
      if (auto why = Folds::over_cap(book.pending_counts(d.target.sandbox), caps); !why.empty()) {
        folds.add(d, why, settings.request_expiry);
        return false;
      }
    }
    return book.note_denial(d, settings).request != nullptr;
  }
};

}  // namespace

TEST_CASE("pending requests of every kind count against the sandbox's and the tenant's caps") {
  Desk desk;
  for (int i = 0; i < 3; ++i) CHECK(desk.note(to("acme/eng/a", fmt::format("198.51.100.{}", i + 1), 80, t0)));
  CHECK(desk.note(name("acme/eng/a", "pypi.org", t0)));  // a name request is the fourth
  CHECK(desk.book.pending_counts("acme/eng/a").sandbox == 4);
  CHECK_FALSE(desk.note(to("acme/eng/a", "198.51.100.9", 80, t0)));  // past the sandbox's cap: folded
  CHECK_FALSE(desk.note(name("acme/eng/a", "evil.example", t0)));    // names too
  CHECK(desk.note(to("acme/eng/a", "198.51.100.1", 80, t0 + 1s)));   // a pending one still counts
  // Another sandbox of the tenant has its own cap, up to the tenant's.
  CHECK(desk.note(to("acme/eng/b", "198.51.100.1", 80, t0)));
  CHECK(desk.note(to("acme/eng/b", "198.51.100.2", 80, t0)));
  CHECK(desk.book.pending_counts("acme/eng/b").tenant == 6);
  CHECK_FALSE(desk.note(to("acme/eng/b", "198.51.100.3", 80, t0)));  // the tenant's cap
  CHECK(desk.folds.find("acme/eng/b")->why == "6 pending requests of its tenant");
  // Another tenant is not touched by acme's caps.
  CHECK(desk.note(to("globex/ops/c", "198.51.100.3", 80, t0)));
  CHECK(desk.folds.find("globex/ops/c") == nullptr);
}

TEST_CASE("a flood of new destinations is one bounded fold entry per sandbox") {
  Desk desk;
  for (int i = 0; i < 4; ++i) desk.note(to("acme/eng/a", fmt::format("203.0.113.{}", i), 80, t0));
  for (int i = 0; i < 100000; ++i)
    desk.note(
        to("acme/eng/a", fmt::format("198.51.{}.{}", i / 250, i % 250), static_cast<uint16_t>(1 + i % 7), t0 + 1s));
  CHECK(desk.book.requests().size() == 4);
  REQUIRE(desk.folds.all().size() == 1);
  const Fold& fold = *desk.folds.find("acme/eng/a");
  CHECK(fold.denials == 100000);
  CHECK(fold.kept.size() == Folds::kKept);  // memory bounded, whatever the flood
  CHECK(fold.seen.size() == Folds::kTracked);
  CHECK(fold.destinations == Folds::kTracked);
  CHECK(fold.destinations_at_least);
  CHECK(fold.summary() == fmt::format("at least {} more destinations from this sandbox", Folds::kTracked));
  CHECK(fold.kept.front().target.address == "198.51.0.0");  // the first are kept for expanding
  auto expanded = fold_to_json(fold, true);
  CHECK(expanded["kept"].size() == Folds::kKept);
  CHECK(expanded["kept"][0]["dest"] == "198.51.0.0");
  CHECK_FALSE(fold_to_json(fold, false).contains("kept"));
}

TEST_CASE("a repeat in a fold counts as a denial, not as another destination") {
  Desk desk;
  for (int i = 0; i < 4; ++i) desk.note(to("acme/eng/a", fmt::format("203.0.113.{}", i), 80, t0));
  desk.note(to("acme/eng/a", "198.51.100.7", 443, t0));
  desk.note(to("acme/eng/a", "198.51.100.7", 443, t0 + 1s));
  desk.note(to("acme/eng/a", "198.51.100.7", 444, t0 + 1s));
  const Fold& fold = *desk.folds.find("acme/eng/a");
  CHECK(fold.destinations == 2);
  CHECK_FALSE(fold.destinations_at_least);
  CHECK(fold.denials == 3);
  CHECK(fold.kept[0].count == 2);
  CHECK(fold.summary() == "2 more destinations from this sandbox");
}

TEST_CASE("below the cap again, new destinations are requests, and a quiet fold expires") {
  Desk desk;
  for (int i = 0; i < 4; ++i) desk.note(to("acme/eng/a", fmt::format("203.0.113.{}", i), 80, t0));
  CHECK_FALSE(desk.note(to("acme/eng/a", "198.51.100.7", 443, t0)));
  auto first = desk.book.requests().begin()->first;
  Decision no;
  REQUIRE(desk.book.decide(first, no, "root", t0 + 1s, desk.settings));
  CHECK(desk.note(to("acme/eng/a", "198.51.100.8", 443, t0 + 2s)));
  // A denied, silent request still takes its repeats: never folded.
  CHECK(desk.note(to("acme/eng/a", "203.0.113.0", 80, t0 + 3s)));
  CHECK(desk.folds.take_changed().size() == 1);
  CHECK(desk.folds.take_changed().empty());  // told once
  CHECK(desk.folds.expire(t0 + desk.settings.request_expiry - 1s).empty());
  auto gone = desk.folds.expire(t0 + desk.settings.request_expiry + 1s);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].sandbox == "acme/eng/a");
  CHECK(desk.folds.all().empty());
}
