// Hostname rules: matching, the decision the DNS proxy asks for, and how
// host rules stay out of the kernel's trie.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "agentd/policy/compile.hpp"
#include "agentd/policy/explain.hpp"
#include "agentd/policy/loader.hpp"
#include "agentd/policy/names.hpp"
#include "policy_fixtures.hpp"

using namespace agentd::policy;

namespace {

const char* kHosts = R"(apiVersion: agentd/v1
tenant: acme
inference:
  - host: api.openai.com
    ports: [443]
rules:
  - agents: "acme/*/*"
    allow:
      - host: "*.github.com"
        ports: [443]
        protocol: tcp
      - host: pastebin.com
      - host: mail.example.org
    deny:
      - host: gist.github.com
      - host: "*.openai.com"
      - host: mail.example.org
        ports: [25]
  - agents: "acme/eng/*"
    allow:
      - host: github.com
        ports: [22]
    deny:
      - host: pastebin.com
)";

}  // namespace

TEST_CASE("host patterns: exact names, wildcards at any depth, never the apex") {
  CHECK(host_matches("api.github.com", "api.github.com"));
  CHECK_FALSE(host_matches("api.github.com", "github.com"));
  CHECK_FALSE(host_matches("api.github.com", "x.api.github.com"));
  CHECK(host_matches("*.github.com", "a.github.com"));
  CHECK(host_matches("*.github.com", "a.b.c.github.com"));
  CHECK_FALSE(host_matches("*.github.com", "github.com"));
  CHECK_FALSE(host_matches("*.github.com", "xgithub.com"));
  CHECK_FALSE(host_matches("*.github.com", "github.com.evil.example"));
  CHECK_FALSE(host_matches("*.github.com", ".github.com"));
  // DNS compares names without regard to case, and a trailing dot is the root.
  CHECK(host_matches("api.github.com", "API.GitHub.com"));
  CHECK(host_matches("api.github.com", "api.github.com."));
  CHECK(host_matches("*.github.com", "Raw.GITHUB.com."));
  CHECK_FALSE(host_matches("api.github.com", "api.github.com.."));
  CHECK(normalize_name("API.GitHub.com.") == "api.github.com");
}

TEST_CASE("host patterns are checked and normalised, and bad ones say why") {
  CHECK(*parse_host_pattern("API.GitHub.com.") == "api.github.com");
  CHECK(*parse_host_pattern("*.github.com") == "*.github.com");
  CHECK(*parse_host_pattern("xn--bcher-kva.example") == "xn--bcher-kva.example");
  CHECK(*parse_host_pattern("localhost") == "localhost");
  CHECK(parse_host_pattern(std::string(63, 'a') + ".com").ok());
  const std::string long_name = fmt::format("{0}.{0}.{0}.{0}.com", std::string(61, 'a'));  // 4*62 + 3 = 251
  CHECK(parse_host_pattern(long_name).ok());
  struct Case {
    std::string text, error;
  };
  const Case cases[] = {
      {"", "host is empty"},
      {"198.51.100.7", "\"198.51.100.7\" is an IP address, not a host name: write it as cidr: 198.51.100.7"},
      {"2001:db8::1", "\"2001:db8::1\" is an IP address, not a host name: write it as cidr: 2001:db8::1"},
      {"198.51.100.0/24", "\"198.51.100.0/24\" is an IP address, not a host name: write it as cidr: 198.51.100.0/24"},
      {"10.0.0.256", "\"10.0.0.256\": the last label is all digits, so it is no host name"},
      {"*", "\"*\" alone would match every name"},
      {"*.*.github.com", "\"*.*.github.com\": a wildcard must be the whole first label, as in \"*.github.com\""},
      {"api*.github.com", "\"api*.github.com\": a wildcard must be the whole first label"},
      {"api.*.com", "\"api.*.com\": a wildcard must be the whole first label"},
      {"a..b.com", "\"a..b.com\" has an empty label (two dots in a row, or a leading dot)"},
      {".github.com", "\".github.com\" has an empty label"},
      {"a_b.example", "\"a_b.example\" has the character '_' (host names use letters, digits and '-')"},
      {"-a.example", "\"-a.example\" has the label \"-a\", which starts or ends with '-'"},
      {std::string(64, 'a') + ".com", "has the label \"" + std::string(64, 'a') + "\", longer than 63 characters"},
      {long_name + "aaa", "is longer than 253 characters"},
      {"bücher.example", "has non-ASCII characters: write an internationalised name in its xn-- (punycode) form"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto parsed = parse_host_pattern(c.text);
    REQUIRE_FALSE(parsed.ok());
    INFO(parsed.error().message);
    CHECK(parsed.error().message.find(c.error) != std::string::npos);
  }
  CHECK(parse_host_name("*.github.com").error().message ==
        "\"*.github.com\" is a pattern: name one host, such as \"www.github.com\"");
}

TEST_CASE("decide_name: a host deny beats every allow, inference beats a deny, no match is denied") {
  const PolicySet set = load(kHosts);
  auto decide = [&](const std::string& who, const std::string& name) { return decide_name(set, agent(who), name); };

  auto raw = decide("acme/ops/a", "raw.github.com");
  CHECK(raw.allowed);
  CHECK(raw.explanation == "allowed by acme.yaml:9:9 rules[0].allow[0] (host *.github.com)");
  REQUIRE(raw.ranges.size() == 1);
  CHECK(raw.ranges[0].lo == 443);
  CHECK(raw.ranges[0].hi == 443);
  CHECK(raw.ranges[0].proto_mask == AGENTD_PROTO_TCP);
  CHECK(raw.ranges[0].action == AGENTD_ACTION_ALLOW);
  CHECK(raw.origins == std::vector<uint32_t>{*raw.endpoint});

  auto gist = decide("acme/ops/a", "gist.github.com");  // an exact deny inside a wildcard allow
  CHECK_FALSE(gist.allowed);
  CHECK(gist.explanation == "denied by acme.yaml:15:9 rules[0].deny[0] (host gist.github.com)");
  CHECK(gist.ranges.empty());

  auto apex = decide("acme/ops/a", "github.com");  // the wildcard never covers the apex
  CHECK_FALSE(apex.allowed);
  CHECK_FALSE(apex.endpoint.has_value());
  CHECK(apex.explanation == "denied: no host rule matches github.com (default deny)");
  CHECK(decide("acme/eng/a", "github.com").allowed);  // the eng rule lists it

  // The tenant's inference host is reachable whatever "*.openai.com" says,
  // and its ranges carry the deny so other ports stay closed in the kernel.
  auto openai = decide("acme/ops/a", "API.OpenAI.com.");
  CHECK(openai.allowed);
  CHECK(openai.explanation ==
        "allowed as the tenant's inference endpoint by acme.yaml:4:5 inference[0] (host api.openai.com)");
  REQUIRE(openai.ranges.size() == 2);
  CHECK(openai.ranges[0].action == AGENTD_ACTION_INFERENCE);
  CHECK(openai.ranges[1].action == AGENTD_ACTION_DENY);
  CHECK_FALSE(decide("acme/ops/a", "chat.openai.com").allowed);

  // A deny of the eng team's rule closes pastebin.com for eng only.
  CHECK(decide("acme/ops/a", "pastebin.com").allowed);
  auto paste = decide("acme/eng/a", "pastebin.com");
  CHECK_FALSE(paste.allowed);
  CHECK(paste.explanation == "denied by acme.yaml:24:9 rules[1].deny[0] (host pastebin.com)");

  // A deny of some ports leaves the name answered; the kernel denies those ports.
  auto mail = decide("acme/ops/a", "mail.example.org");
  CHECK(mail.allowed);
  CHECK(mail.explanation == "allowed by acme.yaml:13:9 rules[0].allow[2] (host mail.example.org)");
  REQUIRE(mail.ranges.size() == 2);
  CHECK(mail.ranges[1].action == AGENTD_ACTION_DENY);
  CHECK(mail.ranges[1].lo == 25);

  auto other = decide("globex/a/b", "raw.github.com");
  CHECK_FALSE(other.allowed);
  CHECK(other.explanation == "denied: the agent's tenant has no policy (default deny)");
}

TEST_CASE("decide_name: a deny refuses the name when it closes every port the allows open") {
  const PolicySet set = load(R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - host: "*.example.com"
        ports: [443, "8000-8010"]
      - host: c.example.com
        ports: [80]
        protocol: udp
    deny:
      - host: "*.example.com"
        ports: ["8000-8005", 443]
      - host: a.example.com
        ports: ["8006-8010"]
      - host: c.example.com
        ports: ["8006-8010"]
)");
  auto a = decide_name(set, agent("acme/x/y"), "a.example.com");
  CHECK_FALSE(a.allowed);  // the two denies together close 443 and 8000-8010
  CHECK(a.explanation == "denied by acme.yaml:12:9 rules[0].deny[0] (host *.example.com)");
  CHECK(decide_name(set, agent("acme/x/y"), "b.example.com").allowed);  // 8006-8010 stays open
  auto c = decide_name(set, agent("acme/x/y"), "c.example.com");
  CHECK(c.allowed);  // udp 80 stays open
  CHECK(c.explanation == "allowed by acme.yaml:8:9 rules[0].allow[1] (host c.example.com)");
}

TEST_CASE("host rules make no trie entries, but their names set the class apart") {
  const PolicySet set = load(R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
      - host: pypi.org
  - agents: "acme/eng/*"
    allow:
      - host: github.com
)");
  auto eng = compile_for_agent(set, agent("acme/eng/a"));
  auto ops = compile_for_agent(set, agent("acme/ops/a"));
  REQUIRE(eng.ok());
  REQUIRE(ops.ok());
  CHECK(eng->entries.size() == 1);
  CHECK(eng->entries.size() == ops->entries.size());  // the same trie entries...
  CHECK(eng->names.size() == 2);                      // ...but not the same names to verify
  CHECK(ops->names.size() == 1);
  CHECK(eng->key != ops->key);
  CHECK_FALSE(eng->key.empty());
  CHECK(decide_name(set, agent("acme/eng/a"), "github.com").allowed);
  CHECK_FALSE(decide_name(set, agent("acme/ops/a"), "github.com").allowed);
}

TEST_CASE("more port ranges for one name than a value holds: refused at compile, denied by decide_name") {
  std::string text = "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n";
  for (int i = 0; i < AGENTD_MAX_PORT_RANGES + 1; ++i)
    text += fmt::format("      - host: \"*.example.com\"\n        ports: [{}]\n", 1000 + 2 * i);
  text += "      - host: other.example\n";
  const PolicySet set = load(text);
  auto compiled = compile_for_agent(set, agent("acme/x/y"));
  REQUIRE_FALSE(compiled.ok());
  INFO(compiled.error().message);
  CHECK(compiled.error().message.rfind("acme/x/y combines 17 distinct port ranges for host *.example.com (at most 16): "
                                       "acme.yaml:10:9, ",
                                       0) == 0);
  CHECK(compiled.error().message.find(", acme.yaml:6:9") != std::string::npos);
  auto decision = decide_name(set, agent("acme/x/y"), "a.example.com");
  CHECK_FALSE(decision.allowed);
  CHECK(decision.explanation.rfind("denied: acme/x/y combines 17 distinct port ranges for host a.example.com", 0) == 0);
  CHECK(decide_name(set, agent("acme/x/y"), "other.example").allowed);
  CHECK(HostRules(set, agent("acme/x/y")).check().error().message == compiled.error().message);
}

TEST_CASE("explain takes HOST:PORT and answers by the host rules") {
  const PolicySet set = load(kHosts);
  auto explain_text = [&](const std::string& who, const std::string& dest) {
    auto d = parse_destination(dest);
    REQUIRE(d.ok());
    auto decision = explain(set, agent(who), *d);
    REQUIRE(decision.ok());
    return std::make_pair(decision->allowed, decision->explanation);
  };
  CHECK(parse_destination("API.GitHub.com.:443")->str() == "api.github.com:443/tcp");
  CHECK(parse_destination("localhost:53/udp")->str() == "localhost:53/udp");
  CHECK(parse_destination("198.51.100.7:443")->host.empty());
  CHECK(parse_destination("a_b.example:443").error().message ==
        "destination \"a_b.example:443\": \"a_b.example\" has the character '_' (host names use letters, digits and "
        "'-')");
  CHECK(parse_destination("[api.github.com]:443").error().message.find("not an IP address") != std::string::npos);

  CHECK(explain_text("acme/ops/a", "raw.github.com:443") ==
        std::make_pair(
            true,
            std::string(
                "allowed by acme.yaml:9:9 rules[0].allow[0] (host *.github.com)"
                "; verify: name: each connection's first bytes must name an allowed host (TLS SNI or HTTP Host); other "
                "protocols pass by address")));
  CHECK(explain_text("acme/ops/a", "raw.github.com:443/udp") ==
        std::make_pair(false, std::string("denied: raw.github.com resolves, but no host rule allows port 443/udp "
                                          "(default deny)")));
  CHECK(explain_text("acme/ops/a", "gist.github.com:443") ==
        std::make_pair(false, std::string("denied by acme.yaml:15:9 rules[0].deny[0] (host gist.github.com): the DNS "
                                          "proxy refuses the name")));
  CHECK(explain_text("acme/ops/a", "example.com:443") ==
        std::make_pair(false, std::string("denied: no host rule matches example.com (default deny): the DNS proxy "
                                          "refuses the name")));
  CHECK(explain_text("acme/ops/a", "api.openai.com:443") ==
        std::make_pair(
            true,
            std::string(
                "allowed as the tenant's inference endpoint by acme.yaml:4:5 inference[0] "
                "(host api.openai.com)"
                "; verify: name: each connection's first bytes must name an allowed host (TLS SNI or HTTP Host); other "
                "protocols pass by address")));
  CHECK(explain_text("acme/ops/a", "api.openai.com:80") ==
        std::make_pair(false, std::string("denied by acme.yaml:16:9 rules[0].deny[1] (host *.openai.com)")));
  CHECK(explain_text("acme/ops/a", "mail.example.org:25") ==
        std::make_pair(false, std::string("denied by acme.yaml:17:9 rules[0].deny[2] (host mail.example.org)")));
  CHECK(explain_text("acme/ops/a", "mail.example.org:587").first);
}

TEST_CASE("explain --sni: the name a connection's first bytes carry, judged as the kernel checks it") {
  const PolicySet set = load(kHosts);
  auto explain_sni = [&](const std::string& who, const std::string& dest, const std::string& sni) {
    auto d = parse_destination(dest);
    REQUIRE(d.ok());
    d->sni = sni;
    auto decision = explain(set, agent(who), *d);
    REQUIRE(decision.ok());
    return std::make_pair(decision->allowed, decision->explanation);
  };
  // The address of an allowed name, carrying another allowed name: verified.
  CHECK(explain_sni("acme/ops/a", "raw.github.com:443", "api.github.com") ==
        std::make_pair(true, std::string("allowed by acme.yaml:9:9 rules[0].allow[0] (host *.github.com); its first "
                                         "bytes name api.github.com, which is allowed by acme.yaml:9:9 "
                                         "rules[0].allow[0] (host *.github.com): verified")));
  // Carrying a denied name (the CDN's other site): refused at the first write.
  CHECK(explain_sni("acme/ops/a", "raw.github.com:443", "gist.github.com") ==
        std::make_pair(false, std::string("allowed by acme.yaml:9:9 rules[0].allow[0] (host *.github.com); but its "
                                          "first bytes name gist.github.com: denied by acme.yaml:15:9 "
                                          "rules[0].deny[0] (host gist.github.com): the DNS proxy refuses the name: "
                                          "the kernel refuses the connection at its first write")));
  // A name no rule allows on that port.
  CHECK_FALSE(explain_sni("acme/ops/a", "raw.github.com:443", "evil.example.com").first);
  CHECK(explain_sni("acme/ops/a", "raw.github.com:443", "pastebin.com").first);
  // A CIDR-allowed address is not verified.
  const PolicySet cidr = load(R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [443]
)");
  auto d = parse_destination("198.51.100.7:443");
  REQUIRE(d.ok());
  d->sni = "evil.example.com";
  auto decision = explain(cidr, agent("acme/ops/a"), *d);
  REQUIRE(decision.ok());
  CHECK(decision->allowed);
  CHECK(decision->explanation.find("a CIDR rule allows the address, so the name it carries is not checked") !=
        std::string::npos);
}
