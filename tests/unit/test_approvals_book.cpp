#include <catch2/catch.hpp>

#include "agentd/approvals/book.hpp"
#include "agentd/common/duration.hpp"

using namespace agentd;
using namespace agentd::approvals;
using namespace std::chrono_literals;

namespace {

const Time t0 = Clock::from_time_t(1'700'000'000);

Denial denial(const std::string& sandbox, uint16_t port, Time at, uint64_t count = 1) {
  Denial d;
  d.target = {sandbox, "198.51.100.20", port, "tcp"};
  d.process = {42, 1000, "curl", "/usr/bin/curl"};
  d.time = at;
  d.count = count;
  return d;
}

}  // namespace

TEST_CASE("identical denials fold into one request, another port is another request") {
  Book book;
  policy::ApprovalSettings settings;
  auto first = book.note_denial(denial("acme/eng/a", 80, t0), settings);
  CHECK(first.what == Book::Noted::created);
  CHECK(book.note_denial(denial("acme/eng/a", 80, t0 + 1s), settings).what == Book::Noted::counted);
  // The kernel held two back: they count.
  CHECK(book.note_denial(denial("acme/eng/a", 80, t0 + 2s, 3), settings).what == Book::Noted::counted);
  REQUIRE(book.requests().size() == 1);
  const Request& r = book.requests().begin()->second;
  CHECK(r.count == 5);
  CHECK(r.first_seen == t0);
  CHECK(r.last_seen == t0 + 2s);
  CHECK(r.expires_at == t0 + settings.request_expiry);
  CHECK(book.note_denial(denial("acme/eng/a", 443, t0), settings).what == Book::Noted::created);
  CHECK(book.note_denial(denial("acme/eng/b", 80, t0), settings).what == Book::Noted::created);
  CHECK(book.requests().size() == 3);
}

TEST_CASE("mode off asks nobody") {
  Book book;
  policy::ApprovalSettings settings;
  settings.prompt = false;
  CHECK(book.note_denial(denial("acme/eng/a", 80, t0), settings).what == Book::Noted::off);
  CHECK(book.requests().empty());
}

TEST_CASE("unanswered requests expire, and a later denial opens a new one") {
  Book book;
  policy::ApprovalSettings settings;
  settings.request_expiry = 10min;
  book.note_denial(denial("acme/eng/a", 80, t0), settings);
  CHECK(book.expire_requests(t0 + 9min).empty());
  auto expired = book.expire_requests(t0 + 10min);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].state == RequestState::expired);
  CHECK_FALSE(book.decide(expired[0].id, {}, "root", t0 + 11min, settings));
  CHECK(book.note_denial(denial("acme/eng/a", 80, t0 + 11min), settings).what == Book::Noted::created);
}

TEST_CASE("an allow makes a grant for the scope asked, for the tenant's time by default") {
  Book book;
  policy::ApprovalSettings settings;
  settings.grant_duration = 2h;
  auto id = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  Decision team{true, Scope::team, std::nullopt, false};
  auto answered = book.decide(id, team, "alice (uid 1001)", t0 + 1min, settings);
  REQUIRE(answered);
  REQUIRE(answered->grant);
  CHECK(answered->grant->subject == "acme/eng");
  CHECK(answered->grant->expires_at == t0 + 1min + 2h);
  CHECK(answered->request.state == RequestState::approved);
  CHECK(answered->request.answer == "allow team for 2h");
  CHECK(answered->grant->covers({"acme", "eng", "b"}));
  CHECK_FALSE(answered->grant->covers({"acme", "ops", "a"}));
  CHECK_FALSE(answered->grant->covers({"globex", "eng", "a"}));
  // Answered once only.
  auto again = book.decide(id, {}, "bob", t0 + 2min, settings);
  REQUIRE_FALSE(again);
  CHECK(again.error().message.find("already approved (by alice (uid 1001))") != std::string::npos);
  CHECK(book.grants_covering({"acme", "eng", "z"}).size() == 1);
  CHECK(book.grants_covering({"acme", "ops", "z"}).empty());
}

TEST_CASE("permanent and timed grants, expiry removes only what is due") {
  Book book;
  policy::ApprovalSettings settings;
  auto a = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  auto b = book.note_denial(denial("acme/eng/a", 81, t0), settings).request->id;
  REQUIRE(book.decide(a, {true, Scope::agent, std::nullopt, true}, "root", t0, settings));
  REQUIRE(book.decide(b, {true, Scope::tenant, 30min, false}, "root", t0, settings));
  CHECK(book.expire_grants(t0 + 29min).empty());
  auto gone = book.expire_grants(t0 + 30min);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].port == 81);
  CHECK(book.grants().size() == 1);
  CHECK_FALSE(book.grants().begin()->second.expires_at);
  CHECK(book.revoke(book.grants().begin()->first));
  CHECK(book.grants().empty());
}

TEST_CASE("after a deny, repeats stay silent, then ask again") {
  Book book;
  policy::ApprovalSettings settings;
  settings.silence_after_deny = 15min;
  auto id = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  auto answered = book.decide(id, {false, Scope::agent, std::nullopt, false}, "root", t0, settings);
  REQUIRE(answered);
  CHECK_FALSE(answered->grant);
  CHECK(answered->request.state == RequestState::denied);
  CHECK(book.note_denial(denial("acme/eng/a", 80, t0 + 14min), settings).what == Book::Noted::silenced);
  CHECK(book.note_denial(denial("acme/eng/a", 80, t0 + 16min), settings).what == Book::Noted::created);
}

TEST_CASE("requests and grants survive a round trip through JSON, and ids continue after a restore") {
  Book book;
  policy::ApprovalSettings settings;
  auto id = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  auto answered = book.decide(id, {true, Scope::team, 1h, false}, "root", t0, settings);
  REQUIRE(answered);
  auto request = request_from_json(request_to_json(answered->request));
  auto grant = grant_from_json(grant_to_json(*answered->grant));
  REQUIRE(request);
  REQUIRE(grant);
  CHECK(request->target == answered->request.target);
  CHECK(request->state == RequestState::approved);
  CHECK(request->answered_at == answered->request.answered_at);
  CHECK(grant->expires_at == answered->grant->expires_at);
  CHECK(grant->scope == Scope::team);
  Book restored;
  restored.restore({*request}, {*grant}, 7, 9);
  auto next = restored.note_denial(denial("acme/eng/a", 99, t0), settings);
  CHECK(next.request->id == 8);
  CHECK_FALSE(request_from_json({{"id", 1}}));
}

TEST_CASE("durations as operators write them") {
  CHECK(*parse_duration("30s") == 30s);
  CHECK(*parse_duration("1h30m") == 90min);
  CHECK(*parse_duration("7d") == std::chrono::hours(168));
  CHECK(*parse_duration("2w") == std::chrono::hours(336));
  for (const char* bad : {"", "30", "h", "1x", "-5m", "1.5h", "0s", "99999999d"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad));
  }
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(3600s) == "1h");
  CHECK(format_duration(0s) == "0s");
}

TEST_CASE("a refused name is a request of its own, and its grant names the name") {
  Book book;
  policy::ApprovalSettings settings;
  auto name_denial = [&](const std::string& name) {
    Denial d;
    d.target = {"acme/eng/a", "", 0, kNameProtocol, name};
    d.host = name;
    d.time = t0;
    return d;
  };
  auto first = book.note_denial(name_denial("pypi.org"), settings);
  REQUIRE(first.request);
  CHECK(first.what == Book::Noted::created);
  CHECK(first.request->target.is_name());
  CHECK(first.request->target.str() == "acme/eng/a -> pypi.org (DNS)");
  // Another name is another request; the same name folds.
  CHECK(book.note_denial(name_denial("files.pythonhosted.org"), settings).what == Book::Noted::created);
  CHECK(book.note_denial(name_denial("pypi.org"), settings).what == Book::Noted::counted);
  CHECK(book.pending_names("acme/eng/a") == 2);
  CHECK(book.pending_names("acme/eng/b") == 0);
  CHECK(book.pending(name_denial("pypi.org").target) == first.request);
  CHECK(book.pending(name_denial("pypa.org").target) == nullptr);
  const uint64_t id = first.request->id;
  auto answered = book.decide(id, Decision{true, Scope::team, 1h, false}, "root (uid 0)", t0, settings);
  REQUIRE(answered);
  REQUIRE(answered->grant);
  CHECK(answered->grant->is_name());
  CHECK(answered->grant->host == "pypi.org");
  CHECK(answered->grant->address.empty());
  CHECK(answered->grant->covers(*policy::parse_agent_name("acme/eng/b")));
  CHECK(book.pending_names("acme/eng/a") == 1);  // answered: no longer pending
  // Through JSON (the store), the request keeps its name.
  auto restored = request_from_json(request_to_json(answered->request));
  REQUIRE(restored);
  CHECK(restored->target == answered->request.target);
  CHECK(restored->target.name == "pypi.org");
  auto grant = grant_from_json(grant_to_json(*answered->grant));
  REQUIRE(grant);
  CHECK(grant->is_name());
  CHECK(grant->host == "pypi.org");
}

TEST_CASE("a peer coming in is a request of its own, and its grant opens only that direction") {
  Book book;
  policy::ApprovalSettings settings;
  Denial out = denial("acme/eng/a", 8080, t0);
  Denial in = out;
  in.target.inbound = true;  // 198.51.100.20 tried to reach the sandbox's port 8080
  CHECK(book.note_denial(out, settings).what == Book::Noted::created);
  auto noted = book.note_denial(in, settings);
  REQUIRE(noted.what == Book::Noted::created);
  CHECK(book.requests().size() == 2);
  CHECK(noted.request->target.str() == "acme/eng/a <- 198.51.100.20 to port 8080/tcp");
  CHECK(out.target.str() == "acme/eng/a -> 198.51.100.20:8080/tcp");

  auto answered = book.decide(noted.request->id, {true, Scope::agent, 1h, false}, "root", t0 + 1s, settings);
  REQUIRE(answered);
  REQUIRE(answered->grant);
  CHECK(answered->grant->inbound);
  CHECK(answered->grant->port == 8080);

  // The direction survives the store.
  auto request = request_from_json(request_to_json(answered->request));
  REQUIRE(request);
  CHECK(request->target.inbound);
  CHECK(request_to_json(answered->request)["direction"] == "inbound");
  auto grant = grant_from_json(grant_to_json(*answered->grant));
  REQUIRE(grant);
  CHECK(grant->inbound);
  // Rows from before directions existed are outbound; a wrong one is refused.
  auto legacy = grant_to_json(*answered->grant);
  legacy.erase("direction");
  CHECK_FALSE(grant_from_json(legacy)->inbound);
  legacy["direction"] = "sideways";
  auto refused = grant_from_json(legacy);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().describe().find("direction") != std::string::npos);
}

TEST_CASE("settle approves the pending requests something now allows, and only those") {
  Book book;
  policy::ApprovalSettings settings;
  auto a = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  auto b = book.note_denial(denial("acme/eng/b", 80, t0), settings).request->id;
  auto c = book.note_denial(denial("acme/eng/a", 443, t0), settings).request->id;
  // A team grant answering a: b (same team, same destination) is opened by it, c is not.
  auto answered = book.decide(a, {true, Scope::team, std::nullopt, false}, "root", t0 + 1min, settings);
  REQUIRE(answered);
  auto allowed = [&](const Request& r) -> std::string {
    auto agent = policy::parse_agent_name(r.target.sandbox);
    const Grant* g = agent ? book.grant_opening(r.target, *agent) : nullptr;
    return g ? "allowed by grant " + std::to_string(g->id) : "";
  };
  auto settled = book.settle(allowed, t0 + 2min);
  REQUIRE(settled.size() == 1);
  CHECK(settled[0].id == b);
  CHECK(book.request(b)->state == RequestState::approved);
  CHECK(book.request(b)->answered_by == "agentd");
  CHECK(book.request(b)->answer == "allowed by grant " + std::to_string(answered->grant->id));
  CHECK_FALSE(book.request(b)->grant_id);
  CHECK(book.request(c)->state == RequestState::pending);
  // Answered or settled requests are never settled again.
  CHECK(book.settle([](const Request&) { return std::string("anything"); }, t0 + 3min).size() == 1);  // c only
  CHECK(book.request(a)->answered_by == "root");
}

TEST_CASE("grant_opening matches the destination exactly, names by name") {
  Book book;
  policy::ApprovalSettings settings;
  auto a = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  REQUIRE(book.decide(a, {true, Scope::agent, std::nullopt, false}, "root", t0, settings));
  const policy::AgentName agent{"acme", "eng", "a"};
  CHECK(book.grant_opening({"acme/eng/a", "198.51.100.20", 80, "tcp"}, agent));
  CHECK_FALSE(book.grant_opening({"acme/eng/a", "198.51.100.20", 80, "udp"}, agent));
  CHECK_FALSE(book.grant_opening({"acme/eng/a", "198.51.100.21", 80, "tcp"}, agent));
  CHECK_FALSE(book.grant_opening({"acme/eng/a", "198.51.100.20", 81, "tcp"}, agent));
  Target inbound{"acme/eng/a", "198.51.100.20", 80, "tcp"};
  inbound.inbound = true;
  CHECK_FALSE(book.grant_opening(inbound, agent));
  CHECK_FALSE(book.grant_opening({"acme/eng/b", "198.51.100.20", 80, "tcp"}, {"acme", "eng", "b"}));
  CHECK_FALSE(book.grant_opening({"acme/eng/a", "", 0, kNameProtocol, "pypi.org"}, agent));
}

TEST_CASE("grant_for shows the grant an allow would make and changes nothing") {
  Book book;
  policy::ApprovalSettings settings;
  const uint64_t id = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  Decision team;
  team.allow = true;
  team.scope = Scope::team;
  auto preview = book.grant_for(id, team, "alice (uid 1001)", t0 + 1min, settings);
  REQUIRE(preview);
  CHECK(preview->subject == "acme/eng");
  CHECK(preview->address == "198.51.100.20");
  CHECK(book.grants().empty());
  CHECK(book.request(id)->state == RequestState::pending);
  // The grant decide makes is the one shown, id included.
  auto answered = book.decide(id, team, "alice (uid 1001)", t0 + 1min, settings);
  REQUIRE(answered);
  REQUIRE(answered->grant);
  CHECK(answered->grant->id == preview->id);
  CHECK(answered->grant->expires_at == preview->expires_at);
  // Answered: no grant to show any more; a deny makes none.
  CHECK_FALSE(book.grant_for(id, team, "alice (uid 1001)", t0 + 2min, settings));
  const uint64_t other = book.note_denial(denial("acme/eng/a", 443, t0), settings).request->id;
  CHECK_FALSE(book.grant_for(other, Decision{}, "alice (uid 1001)", t0 + 2min, settings));
}

TEST_CASE("reopen takes an answer back: pending again with a deny's silence over and an approval's grant removed") {
  Book book;
  policy::ApprovalSettings settings;
  settings.request_expiry = 10min;

  SECTION("a deny") {
    const uint64_t id = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
    REQUIRE(book.decide(id, Decision{false}, "root (uid 0)", t0 + 1s, settings));
    CHECK(book.note_denial(denial("acme/eng/a", 80, t0 + 2s), settings).what == Book::Noted::silenced);
    REQUIRE(book.silenced(denial("acme/eng/a", 80, t0).target, t0 + 2s) != nullptr);
    CHECK(book.silenced(denial("acme/eng/a", 443, t0).target, t0 + 2s) == nullptr);
    auto reopened = book.reopen(id, t0 + 3s, settings);
    REQUIRE(reopened);
    CHECK_FALSE(reopened->revoked);
    const Request& r = reopened->request;
    CHECK(r.state == RequestState::pending);
    CHECK(r.answered_by.empty());
    CHECK_FALSE(r.answered_at);
    CHECK_FALSE(r.silent_until);
    CHECK(r.expires_at == t0 + 3s + 10min);
    CHECK(r.count == 2);  // what was denied meanwhile stays counted
    CHECK(book.pending(r.target) != nullptr);
    CHECK(book.pending_counts("acme/eng/a").sandbox == 1);
    // Repeats now fold into the pending request, not into a silence.
    CHECK(book.note_denial(denial("acme/eng/a", 80, t0 + 4s), settings).what == Book::Noted::counted);
    // And it can be answered again.
    CHECK(book.decide(id, Decision{true}, "root (uid 0)", t0 + 5s, settings));
  }

  SECTION("an approval") {
    const uint64_t id = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
    auto answered = book.decide(id, Decision{true, Scope::team}, "root (uid 0)", t0 + 1s, settings);
    REQUIRE(answered);
    REQUIRE(answered->grant);
    const uint64_t grant = answered->grant->id;
    auto reopened = book.reopen(id, t0 + 2s, settings);
    REQUIRE(reopened);
    REQUIRE(reopened->revoked);
    CHECK(reopened->revoked->id == grant);
    CHECK(book.grants().empty());
    CHECK_FALSE(reopened->request.grant_id);
    CHECK(reopened->request.state == RequestState::pending);
    // Expired meanwhile: it can be answered, and a reopen of an expired one works too.
    REQUIRE(book.expire_requests(t0 + 2s + 10min).size() == 1);
    CHECK(book.reopen(id, t0 + 11min, settings));
  }

  SECTION("what it refuses") {
    const uint64_t pending = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
    auto refused = book.reopen(pending, t0, settings);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("pending already") != std::string::npos);
    CHECK_FALSE(book.reopen(999, t0, settings));
    // Settled by agentd: a rule or another grant allows it, nothing to take back.
    book.settle([](const Request&) { return std::string("allowed by rule 1"); }, t0 + 1s);
    refused = book.reopen(pending, t0 + 2s, settings);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("needed no answer") != std::string::npos);
    // A newer request about the same destination is the one to answer.
    const uint64_t old = book.note_denial(denial("acme/eng/a", 443, t0), settings).request->id;
    REQUIRE(book.expire_requests(t0 + 10min).size() == 1);
    const uint64_t newer = book.note_denial(denial("acme/eng/a", 443, t0 + 11min), settings).request->id;
    REQUIRE(newer != old);
    refused = book.reopen(old, t0 + 12min, settings);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find(std::to_string(newer)) != std::string::npos);
  }
}

TEST_CASE("a name request's grant may open some ports only, an address request's is its one port") {
  Book book;
  policy::ApprovalSettings settings;
  Denial name;
  name.target = {"acme/eng/a", "", 0, kNameProtocol, "files.example.test"};
  name.host = "files.example.test";
  name.time = t0;
  const uint64_t id = book.note_denial(name, settings).request->id;
  Decision narrow{true};
  narrow.ports = {{443, 443}, {8000, 8100}};
  auto answered = book.decide(id, narrow, "root (uid 0)", t0, settings);
  REQUIRE(answered);
  REQUIRE(answered->grant);
  CHECK(answered->grant->opens() == "ports 443,8000-8100");
  CHECK(answered->request.answer.find("on ports 443,8000-8100") != std::string::npos);
  // Stored and read back with its ports; a grant stored before ports existed opens every port.
  auto back = grant_from_json(grant_to_json(*answered->grant));
  REQUIRE(back);
  CHECK(back->opens() == "ports 443,8000-8100");
  auto old = grant_to_json(*answered->grant);
  old.erase("ports");
  CHECK(grant_from_json(old)->opens() == "every port");
  old["ports"] = "443-80";
  CHECK_FALSE(grant_from_json(old));
  old["ports"] = nlohmann::json::array({443});  // not a port list: refused, never read as every port
  CHECK_FALSE(grant_from_json(old));

  const uint64_t address = book.note_denial(denial("acme/eng/a", 80, t0), settings).request->id;
  auto refused = book.grant_for(address, narrow, "root (uid 0)", t0, settings);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("port 80/tcp alone") != std::string::npos);
  auto plain = book.decide(address, Decision{true}, "root (uid 0)", t0, settings);
  REQUIRE(plain);
  CHECK(plain->grant->opens() == "port 80/tcp");
}
