// Names, not addresses (issue 13): `verify:` in policy, the names the
// kernel's trie holds, and the first-bytes parser the sk_msg program runs
// (bpf/first_bytes.h, built here from the same source), fed ClientHellos
// that OpenSSL writes and HTTP requests.
#include <catch2/catch.hpp>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../fuzz/first_bytes_shim.h"
#include "agentd/policy/compile.hpp"
#include "agentd/policy/names.hpp"
#include "first_bytes.h"
#include "policy_fixtures.hpp"
#include "verdict.h"

using namespace agentd::policy;

namespace {

using Bytes = std::vector<uint8_t>;

// The first flight of an OpenSSL 3 client: a ClientHello in one record.
Bytes client_hello(const char* sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  if (sni) SSL_set_tlsext_host_name(ssl, sni);
  SSL_connect(ssl);  // wants to read the ServerHello: the hello is written
  Bytes bytes(static_cast<size_t>(BIO_ctrl_pending(out)));
  BIO_read(out, bytes.data(), static_cast<int>(bytes.size()));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return bytes;
}

void put16(Bytes& b, size_t at, size_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

// The hello with one more extension at the end of its list (the record,
// handshake and extensions lengths grown to match).
Bytes with_extension(Bytes hello, uint16_t type, const Bytes& payload) {
  size_t off = 9 + 2 + 32;
  off += 1 + hello[off];                            // session id
  off += 2 + ((hello[off] << 8) | hello[off + 1]);  // cipher suites
  off += 1 + hello[off];                            // compression methods
  const size_t ext_len = (hello[off] << 8) | hello[off + 1];
  const size_t grow = 4 + payload.size();
  put16(hello, off, ext_len + grow);
  const size_t hs_len = ((size_t{hello[6]} << 16) | (hello[7] << 8) | hello[8]) + grow;
  hello[6] = static_cast<uint8_t>(hs_len >> 16);
  put16(hello, 7, hs_len);
  put16(hello, 3, ((hello[3] << 8) | hello[4]) + grow);
  hello.push_back(static_cast<uint8_t>(type >> 8));
  hello.push_back(static_cast<uint8_t>(type));
  hello.push_back(static_cast<uint8_t>(payload.size() >> 8));
  hello.push_back(static_cast<uint8_t>(payload.size()));
  hello.insert(hello.end(), payload.begin(), payload.end());
  return hello;
}

agentd_first_name parse(const Bytes& bytes, size_t size = SIZE_MAX) {
  agentd_first_name out{};
  agentd_parse_first_bytes(bytes.data(), static_cast<unsigned>(std::min(size, bytes.size())), &out);
  return out;
}

agentd_first_name parse(const std::string& text) { return parse(Bytes(text.begin(), text.end())); }

// The kernel's lookup: the longest stored key that prefixes the name's
// key, in the class's scope, then agentd_judge on its value.
uint8_t kernel_action(const CompiledClass& compiled, const std::string& name, uint16_t port) {
  const agentd_name_key want = make_name_key(1, name);
  const CompiledName* best = nullptr;
  uint32_t best_len = 0;
  for (const auto& n : compiled.names) {
    const agentd_name_key k = make_name_key(1, n.pattern);
    const uint32_t bytes = (k.prefixlen - 32) / 8;
    if (k.prefixlen > want.prefixlen || std::memcmp(k.name, want.name, bytes) != 0) continue;
    if (!best || bytes > best_len) best = &n, best_len = bytes;
  }
  return best ? agentd_judge(&best->value, port, AGENTD_PROTO_TCP).action : 0;
}

}  // namespace

TEST_CASE("verify: defaults to name on host allows, and says where it cannot apply") {
  const PolicySet set = load(R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - host: api.example.test
      - host: git.example.test
        verify: strict
      - host: legacy.example.test
        verify: lenient
      - host: odd.example.test
        verify: off
      - cidr: 198.51.100.0/24
    deny:
      - host: evil.example.test
)");
  auto verify_of = [&](const std::string& host) {
    for (size_t id = 0; id < set.endpoint_count(); ++id)
      if (set.endpoint(static_cast<uint32_t>(id)).host == host)
        return set.endpoint(static_cast<uint32_t>(id)).verify_mode();
    FAIL("no endpoint " << host);
    return uint8_t{0xff};
  };
  CHECK(verify_of("api.example.test") == AGENTD_VERIFY_NAME);
  CHECK(verify_of("git.example.test") == AGENTD_VERIFY_STRICT);
  CHECK(verify_of("legacy.example.test") == AGENTD_VERIFY_LENIENT);
  CHECK(verify_of("odd.example.test") == AGENTD_VERIFY_OFF);
  CHECK(verify_of("evil.example.test") == AGENTD_VERIFY_OFF);  // a deny has nothing to verify

  struct Bad {
    const char* yaml;
    const char* error;
  };
  const Bad bad[] = {
      {"      - cidr: 198.51.100.0/24\n        verify: name\n",
       "acme.yaml:7:17: rules[0].allow[0]: verify applies to host rules"},
      {"      - host: a.example.test\n        verify: maybe\n",
       "acme.yaml:7:17: rules[0].allow[0]: verify \"maybe\" is not name, strict, lenient or off"},
  };
  for (const auto& b : bad) {
    auto result = parse_policy_texts(
        {{"acme.yaml",
          std::string("apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n") +
              b.yaml}});
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.errors.at(0).str(), Catch::StartsWith(b.error));
  }
  auto deny = parse_policy_texts({{"acme.yaml",
                                   "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n"
                                   "    deny:\n      - host: a.example.test\n        verify: strict\n"}});
  REQUIRE_FALSE(deny.ok());
  CHECK_THAT(deny.errors.at(0).str(), Catch::Contains("verify applies to what a rule allows"));
}

TEST_CASE("a class holds its host patterns, each with every range that matches it, denies folded in") {
  const PolicySet set = load(R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - host: "*.example.test"
        ports: [443]
      - host: api.example.test
        ports: [8443]
        verify: strict
    deny:
      - host: "*.bad.example.test"
      - host: evil.example.test
)");
  auto compiled = compile_for_agent(set, agent("acme/eng/a"));
  REQUIRE(compiled.ok());
  std::vector<std::string> patterns;
  for (const auto& n : compiled->names) patterns.push_back(n.pattern);
  CHECK(patterns ==
        std::vector<std::string>{"*.bad.example.test", "*.example.test", "api.example.test", "evil.example.test"});
  CHECK_FALSE(compiled->empty());  // a host-only policy is a class of its own, not the empty one

  struct Case {
    const char* name;
    uint16_t port;
    uint8_t action;
  };
  const Case cases[] = {
      {"api.example.test", 443, AGENTD_ACTION_ALLOW},  // the wildcard's port, through the exact entry
      {"api.example.test", 8443, AGENTD_ACTION_ALLOW},
      {"www.example.test", 443, AGENTD_ACTION_ALLOW},
      {"a.b.c.example.test", 443, AGENTD_ACTION_ALLOW},  // any depth
      {"www.example.test", 8443, 0},                     // not that port
      {"example.test", 443, 0},                          // never the apex
      {"xexample.test", 443, 0},                         // a suffix only after a dot
      {"evil.example.test", 443, AGENTD_ACTION_DENY},    // the deny wins over the wildcard
      {"x.bad.example.test", 443, AGENTD_ACTION_DENY},
      {"other.test", 443, 0},
  };
  for (const auto& c : cases) {
    INFO(c.name << ":" << c.port);
    CHECK(kernel_action(*compiled, c.name, c.port) == c.action);
  }
  // What the range that allowed an address asks of its connections.
  for (const auto& n : compiled->names)
    for (uint32_t i = 0; i < n.value.count; ++i)
      if (n.value.ranges[i].action == AGENTD_ACTION_ALLOW)
        CHECK(n.value.ranges[i].verify == (n.value.ranges[i].lo == 8443 ? AGENTD_VERIFY_STRICT : AGENTD_VERIFY_NAME));
}

TEST_CASE("names trie keys: reversed, an exact name ends with NUL, a wildcard is a proper suffix") {
  const agentd_name_key exact = make_name_key(7, "api.example.test");
  CHECK(exact.scope == 7);
  CHECK(std::string(reinterpret_cast<const char*>(exact.name)) == "tset.elpmaxe.ipa");
  CHECK(exact.prefixlen == 32 + 8 * 17);
  const agentd_name_key wild = make_name_key(AGENTD_NAME_GRANT_SCOPE | 3, "*.example.test");
  CHECK(std::string(reinterpret_cast<const char*>(wild.name), 13) == "tset.elpmaxe.");
  CHECK(wild.prefixlen == 32 + 8 * 13);
  // Read back (a restarted agentd reads the trie a previous one wrote).
  for (const char* pattern : {"api.example.test", "*.example.test", "x", "*.x"})
    CHECK(pattern_of_name_key(make_name_key(1, pattern)) == pattern);
}

TEST_CASE("first bytes: a ClientHello's SNI, lower-cased, whatever its size") {
  auto hello = client_hello("API.Example.TEST");
  REQUIRE(hello.size() > 100);
  auto found = parse(hello);
  CHECK(found.result == FB_NAME);
  CHECK(std::string(found.name) == "api.example.test");

  // A post-quantum key share makes a ClientHello of 1.5-2 KB.
  auto big = with_extension(client_hello("ok.example.test"), 21 /* padding */, Bytes(1800, 0));
  found = parse(big);
  CHECK(found.result == FB_NAME);
  CHECK(std::string(found.name) == "ok.example.test");
}

TEST_CASE("first bytes: a ClientHello split across writes waits for its whole record") {
  auto hello = client_hello("ok.example.test");
  auto head = parse(hello, 3);
  CHECK(head.result == FB_MORE);
  CHECK(head.cork == 5);
  auto part = parse(hello, 60);
  CHECK(part.result == FB_MORE);
  CHECK(part.cork == hello.size());
  CHECK(parse(hello).result == FB_NAME);
}

TEST_CASE("first bytes: no SNI, ECH, two SNI, a ClientHello over two records are refused") {
  CHECK(parse(client_hello(nullptr)).result == FB_NO_NAME);
  CHECK(parse(with_extension(client_hello("ok.example.test"), 0xfe0d, Bytes(40, 1))).result == FB_ECH);
  Bytes second_sni = {0, 12, 0, 0, 9, 'e', 'v', 'i', 'l', '.', 't', 'e', 's', 't'};
  CHECK(parse(with_extension(client_hello("ok.example.test"), 0, second_sni)).result == FB_UNPARSABLE);
  auto hello = client_hello("ok.example.test");
  put16(hello, 3, 60);  // the record ends inside the handshake message
  hello.resize(65);
  CHECK(parse(hello).result == FB_UNPARSABLE);
  CHECK(parse(Bytes{0x16, 3, 1, 0, 2, 1, 0}).result == FB_UNPARSABLE);
}

TEST_CASE("first bytes: an HTTP request's Host") {
  struct Case {
    const char* request;
    int result;
    const char* name;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nHost: ok.example.test\r\nAccept: */*\r\n\r\n", FB_NAME, "ok.example.test"},
      {"POST /x HTTP/1.1\r\nhost:OK.example.test:8080\r\n\r\nbody", FB_NAME, "ok.example.test"},
      {"GET / HTTP/1.1\r\nHost: ok.example.test.\r\n\r\n", FB_NAME, "ok.example.test"},
      {"GET / HTTP/1.1\nHost: ok.example.test\n\n", FB_NAME, "ok.example.test"},
      {"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", FB_NO_NAME, ""},
      {"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", FB_UNPARSABLE, ""},
      // An absolute-form target counts only when it names the Host's site.
      {"GET http://evil.example.test/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"GET http://OK.example.test:8080/x?y HTTP/1.1\r\nHost: ok.example.test:8080\r\n\r\n", FB_NAME,
       "ok.example.test"},
      {"GET HTTPS://ok.example.test HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_NAME, "ok.example.test"},
      {"GET http://ok.example.test.evil.test/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"GET http://ok.example/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"GET http://ok.example.test@evil.test/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"GET http://[2001:db8::1]/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"GET ftp://ok.example.test/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"CONNECT evil.example.test:443 HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"GET http://ok.example.test/ HTTP/1.1\r\nAccept: */*\r\n\r\n", FB_NO_NAME, ""},
      // The method runs to the first blank: a long one, or a tab, hides no target.
      {"POSTPOSTPOSTPOSTPOST http://evil.example.test/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"GET\thttp://evil.example.test/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      // A method we do not know is still HTTP when the line ends in a version:
      // nginx takes any upper-case method, Go any token, and route by Host.
      {"GETX / HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_NAME, "ok.example.test"},
      {"xpost / http/1.1\r\nHost: evil.example.test\r\n\r\n", FB_NAME, "evil.example.test"},
      {"M-SEARCH * HTTP/1.1  \r\nHost: evil.example.test\r\n\r\n", FB_NAME, "evil.example.test"},
      {"XPOST http://evil.example.test/ HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"XPOST / HTTP/1.1\r\nAccept: */*\r\n\r\n", FB_NO_NAME, ""},
      // Other line protocols pass as what they are.
      {"a001 LOGIN user secret\r\n", FB_OTHER, ""},
      {"EHLO client.example.test\r\n", FB_OTHER, ""},
      {"*1\r\n$4\r\nPING\r\n", FB_OTHER, ""},
      {"\r\nGET / HTTP/1.1\r\nHost: ok.example.test\r\n\r\n", FB_UNPARSABLE, ""},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", FB_UNPARSABLE, ""},
      {"SSH-2.0-OpenSSH_9.2\r\n", FB_OTHER, ""},
  };
  for (const auto& c : cases) {
    INFO(c.request);
    auto found = parse(std::string(c.request));
    CHECK(found.result == c.result);
    if (c.result == FB_NAME) CHECK(std::string(found.name) == c.name);
  }
  CHECK(parse(Bytes{0x00, 0x01, 0x02, 0x03}).result == FB_OTHER);  // binary: another protocol
  // Not whole yet: held, a byte at a time, not passed as another protocol.
  auto partial = parse(std::string("GET / HTTP/1.1\r\nHost: ok.exa"));
  CHECK(partial.result == FB_MORE);
  CHECK(partial.cork == 29);  // one byte more than it has
  auto one = parse(std::string("G"));
  CHECK(one.result == FB_MORE);
  CHECK(one.cork == 2);
  auto line = parse(std::string("XPOST / HT"));  // an unknown method: held until its line ends
  CHECK(line.result == FB_MORE);
  CHECK(line.cork == 11);
  CHECK(parse(std::string("XPOST / HTTP/1.1\r\nHost: ok.exa")).result == FB_MORE);
  CHECK(parse(std::string("XPOST ") + std::string(5000, 'a')).result == FB_UNPARSABLE);
  // A method longer than the parser reads: HTTP, and refused.
  CHECK(parse(std::string(40, 'A') + " / HTTP/1.1\r\nHost: evil.example.test\r\n\r\n").result == FB_UNPARSABLE);
  CHECK(parse(std::string(40, 'A') + "\r\n").result == FB_OTHER);
  CHECK(parse(std::string("GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n")).stored == -1);
}

TEST_CASE("first bytes: every name length up to the trie's limit, none past it") {
  for (size_t n = 1; n <= 300; ++n) {
    std::string host(n, 'a');
    for (size_t i = 9; i < n; i += 10) host[i] = '.';
    if (host.back() == '.') host.back() = 'b';
    auto found = parse("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
    INFO(n);
    if (n < AGENTD_NAME_MAX) {
      REQUIRE(found.result == FB_NAME);
      CHECK(found.stored == static_cast<int>(n));
      CHECK(std::string(found.name) == host);
    } else {
      // Too long to store: refused, as a name that cannot match or as
      // a value longer than the scan reads.
      CHECK((found.result == FB_UNPARSABLE || (found.result == FB_NAME && found.stored == -1)));
    }
  }
}
