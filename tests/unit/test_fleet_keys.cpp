// The fleet's etcd key layout and base64: what a key may be, and what a
// hostile key (a path, a hidden file) is refused as.
#include <catch2/catch.hpp>

#include "agentd/common/safe_text.hpp"
#include "agentd/fleet/base64.hpp"
#include "agentd/fleet/key_layout.hpp"

using namespace agentd::fleet;

TEST_CASE("base64 round-trips any bytes and refuses what is not base64, naming the place") {
  for (const std::string& bytes :
       {std::string(), std::string("a"), std::string("ab"), std::string("abc"), std::string("\0\xff\x10 policy", 10)}) {
    auto back = base64_decode(base64_encode(bytes), "test");
    REQUIRE(back.ok());
    CHECK(*back == bytes);
  }
  CHECK(base64_encode("foo") == "Zm9v");
  auto bad_length = base64_decode("Zm9", "range.kvs[0].key");
  REQUIRE_FALSE(bad_length.ok());
  CHECK_THAT(bad_length.error().message, Catch::Contains("range.kvs[0].key") && Catch::Contains("multiple of 4"));
  CHECK_FALSE(base64_decode("Zm9v!A==", "x").ok());
  CHECK_FALSE(base64_decode("Z=9v", "x").ok());  // padding only at the end
  CHECK_FALSE(base64_decode("====", "x").ok());
}

TEST_CASE("fleet keys live under the prefix, and the prefix is checked") {
  auto layout = KeyLayout::make("/agentd");
  REQUIRE(layout.ok());
  CHECK(layout->tenant_key("acme.yaml") == "/agentd/policy/tenants/acme.yaml");
  CHECK(layout->preset_key("pypi.yaml") == "/agentd/policy/presets/pypi.yaml");
  CHECK(layout->push_key() == "/agentd/policy/push");
  CHECK(layout->host_key("h1") == "/agentd/hosts/h1");
  CHECK(KeyLayout::make("/a/b-c.d").ok());
  for (const char* bad : {"", "agentd", "/agentd/", "/a//b", "/a/../b", "/a b", "/a/./b"}) {
    auto refused = KeyLayout::make(bad);
    INFO(bad);
    CHECK_FALSE(refused.ok());
  }
}

TEST_CASE("a policy key names a bare file, anything else is refused with the key and the reason") {
  auto layout = *KeyLayout::make("/agentd");
  auto tenant = layout.classify("/agentd/policy/tenants/acme.yaml");
  REQUIRE(tenant.ok());
  CHECK(tenant->kind == PolicyKeyKind::tenant);
  CHECK(tenant->file == "acme.yaml");
  CHECK(layout.classify("/agentd/policy/presets/pypi.yml")->kind == PolicyKeyKind::preset);
  CHECK(layout.classify("/agentd/policy/push")->kind == PolicyKeyKind::push_record);
  for (const char* bad : {"/agentd/policy/tenants/../../etc/passwd.yaml", "/agentd/policy/tenants/.hidden.yaml",
                          "/agentd/policy/tenants/a/b.yaml", "/agentd/policy/tenants/acme.txt",
                          "/agentd/policy/other/acme.yaml", "/agentd/policy/tenants/", "/agentd/policy/x"}) {
    auto refused = layout.classify(bad);
    INFO(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::Contains(bad));
  }
}

TEST_CASE("a refused key's bytes are shown escaped, so the error is valid text") {
  auto layout = *KeyLayout::make("/agentd");
  auto refused = layout.classify(std::string("/agentd/policy/tenants/\x80\x1b[2J.yaml"));
  REQUIRE_FALSE(refused.ok());
  CHECK(agentd::is_valid_utf8(refused.error().message));
  CHECK_THAT(refused.error().message, Catch::Contains("\\x80"));
}

TEST_CASE("range_end of a prefix is the next key after every key that starts with it") {
  CHECK(range_end_of_prefix("/agentd/policy/") == "/agentd/policy0");
  CHECK(range_end_of_prefix(std::string("a\xff", 2)) == "b");
  CHECK(range_end_of_prefix(std::string("\xff", 1)) == std::string(1, '\0'));
  CHECK(is_host_name("host-1.example"));
  CHECK_FALSE(is_host_name(".."));
  CHECK_FALSE(is_host_name("a/b"));
}
