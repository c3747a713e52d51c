// Control requests from authorised clients are still input: wrong types,
// out-of-range numbers and unknown values are refused naming the field,
// and agentd never adopts itself or its own sandbox tree.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agentd/api/params.hpp"
#include "agentd/sandbox/adopt_check.hpp"

using namespace agentd::api;
using agentd::sandbox::AdoptLimits;
using agentd::sandbox::check_adoptable;
using nlohmann::json;

namespace {

// The error text of a failed Result, or "" when it succeeded.
template <typename T>
std::string error_of(const agentd::Result<T>& result) {
  return result ? std::string() : result.error().describe();
}

}  // namespace

TEST_CASE("a string field of another type is refused naming the field and what came") {
  const json request = {{"scope", 5}, {"for", json::array()}, {"agent", "acme/eng/a"}, {"state", nullptr}};
  CHECK(error_of(optional_string(request, "scope")) ==
        "the request field \"scope\" must be a string, not the number 5");
  CHECK(error_of(optional_string(request, "for")) == "the request field \"for\" must be a string, not an array");
  CHECK(error_of(optional_string(request, "state")) == "the request field \"state\" must be a string, not null");
  CHECK(optional_string(request, "agent")->value() == "acme/eng/a");
  CHECK_FALSE(optional_string(request, "missing")->has_value());
  CHECK(error_of(required_string(request, "missing")) == "the request needs the field \"missing\", a string");
  CHECK(error_of(required_string(json{{"agent", ""}}, "agent")) == "the request needs the field \"agent\", a string");
  CHECK(*required_string(request, "agent") == "acme/eng/a");
}

TEST_CASE("a boolean field takes only true or false") {
  CHECK(optional_bool(json{{"permanent", true}}, "permanent")->value());
  CHECK_FALSE(optional_bool(json::object(), "permanent")->has_value());
  CHECK(error_of(optional_bool(json{{"permanent", "yes"}}, "permanent")) ==
        "the request field \"permanent\" must be true or false, not the string \"yes\"");
  CHECK(error_of(optional_bool(json{{"permanent", 1}}, "permanent")) ==
        "the request field \"permanent\" must be true or false, not the number 1");
}

TEST_CASE("an id is a whole number in range: negative, huge, fractional and quoted ids are refused") {
  const std::string expected = "must be a whole number from 1 to 9007199254740991";
  CHECK(*required_number(json{{"id", 7}}, "id", 1, kMaxId) == 7);
  CHECK(*required_number(json{{"id", kMaxId}}, "id", 1, kMaxId) == kMaxId);
  for (const json& bad : {json(-1), json(0), json(kMaxId + 1), json(UINT64_MAX), json(1.5), json(1e300), json("7"),
                          json(true), json::object()}) {
    INFO(bad.dump());
    const std::string error = error_of(required_number(json{{"id", bad}}, "id", 1, kMaxId));
    CHECK(error.find("the request field \"id\" " + expected) == 0);
  }
  // A number too large for 64 bits is parsed as a float: refused the same way.
  const json parsed = json::parse(R"({"id": 123456789012345678901234567890})");
  CHECK(error_of(required_number(parsed, "id", 1, kMaxId)).find("\"id\" " + expected) != std::string::npos);
  CHECK(error_of(required_number(json::object(), "id", 1, kMaxId)) ==
        "the request needs the field \"id\", a whole number from 1 to 9007199254740991");
}

TEST_CASE("what a refused value shows is one short line") {
  const json request = {{"scope", std::string(500, 'x') + "\n\x1b[31m"}};
  const std::string error = error_of(required_number(request, "scope", 1, 3));
  CHECK(error.size() < 160);
  CHECK(error.find('\n') == std::string::npos);
  CHECK(error.find('\x1b') == std::string::npos);
  CHECK(error_of(optional_bool(json{{"b", "\x1b[2J"}}, "b")).find("\\u001b[2J") != std::string::npos);
}

TEST_CASE("a request that is no object has none of its fields") {
  CHECK_FALSE(optional_string(json::array({1, 2}), "agent")->has_value());
  CHECK_FALSE(optional_number(json("x"), "id", 1, 2)->has_value());
}

TEST_CASE("adopt: only cgroups below the mount, outside agentd's tree and not holding agentd") {
  const AdoptLimits limits{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/agentd",
                           "/sys/fs/cgroup/unified/system.slice/agentd.service/daemon"};
  struct Case {
    std::string path, error;  // error: a part of the message; empty: adopted
  };
  const Case cases[] = {
      {"/sys/fs/cgroup/unified/system.slice/foo.service", ""},
      {"/sys/fs/cgroup/unified/system.slice/foo.service/", ""},
      {"/sys/fs/cgroup/unified//system.slice/./foo.service", ""},
      {"/sys/fs/cgroup/unified/system.slice/agentd.service/daemon/child", ""},  // below agentd, without it
      {"", "no cgroup given"},
      {"system.slice/foo.service", "give an absolute path"},
      {"/sys/fs/cgroup/unified/agentd/../system.slice", "\"..\" is refused"},
      {"/sys/fs/cgroup/unified/system.slice/..", "\"..\" is refused"},
      {"/sys/fs/cgroup/unified", "not a cgroup below the cgroup2 mount"},
      {"/sys/fs/cgroup/unified/", "not a cgroup below the cgroup2 mount"},
      {"/sys/fs/cgroup/memory/foo", "not a cgroup below the cgroup2 mount"},
      {"/etc", "not a cgroup below the cgroup2 mount"},
      {"/sys/fs/cgroup/unified/agentd", "agentd's own sandbox tree"},
      {"/sys/fs/cgroup/unified/agentd/", "agentd's own sandbox tree"},
      {"/sys/fs/cgroup/unified/agentd/acme/eng/coder-1", "agentd's own sandbox tree"},
      {"/sys/fs/cgroup/unified/system.slice/agentd.service/daemon", "holds agentd itself"},
      {"/sys/fs/cgroup/unified/system.slice/agentd.service", "holds agentd itself"},
      {"/sys/fs/cgroup/unified/system.slice", "holds agentd itself"},
      {std::string("/sys/fs/cgroup/unified/a\0b", 26), "NUL"},  // 26: the NUL inside, not the one after
  };
  for (const auto& c : cases) {
    INFO(c.path);
    auto result = check_adoptable(c.path, limits);
    if (c.error.empty()) {
      CHECK(result.ok());
    } else {
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().describe().find(c.error) != std::string::npos);
    }
  }
  CHECK(*check_adoptable("/sys/fs/cgroup/unified/system.slice/foo.service/", limits) ==
        "/sys/fs/cgroup/unified/system.slice/foo.service");
}

TEST_CASE(
    "adopt: a sandbox root above the candidate is refused too, and agentd in the mount's root refuses nothing else") {
  const AdoptLimits in_root{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/a/sandboxes", "/sys/fs/cgroup/unified/"};
  CHECK(check_adoptable("/sys/fs/cgroup/unified/other", in_root).ok());
  auto above = check_adoptable("/sys/fs/cgroup/unified/a", in_root);
  REQUIRE_FALSE(above.ok());
  CHECK(above.error().describe().find("or holds it") != std::string::npos);
}

TEST_CASE("adopt: what a refused path shows cannot steer the terminal") {
  const AdoptLimits limits{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/agentd", ""};
  auto result = check_adoptable("rel\x1b[2J\n", limits);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().describe().find("rel\\x1b[2J\\n") != std::string::npos);
}
