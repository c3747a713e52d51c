// etcd's JSON gateway answers, as etcd 3.4 writes them, and broken or
// hostile ones: each is read or refused with the field and the reason,
// never a crash.
#include <catch2/catch.hpp>

#include "agentd/fleet/base64.hpp"
#include "agentd/fleet/etcd_messages.hpp"

using namespace agentd::fleet;
using nlohmann::json;

namespace {
const char* kHeader = R"("header":{"cluster_id":"1","member_id":"2","revision":"7","raft_term":"2"})";
}

TEST_CASE("a range answer: keys, values and revisions decoded, and no kvs is an empty read") {
  const std::string text = std::string("{") + kHeader + R"(,"kvs":[{"key":"Zm9v","create_revision":"2",
      "mod_revision":"5","version":"1","value":"YmFy"}],"count":"1"})";
  auto range = parse_range(text);
  REQUIRE(range.ok());
  CHECK(range->revision == 7);
  REQUIRE(range->kvs.size() == 1);
  CHECK(range->kvs[0].key == "foo");
  CHECK(range->kvs[0].value == "bar");
  CHECK(range->kvs[0].mod_revision == 5);
  auto empty = parse_range(std::string("{") + kHeader + "}");
  REQUIRE(empty.ok());
  CHECK(empty->kvs.empty());
}

TEST_CASE("broken range answers are errors naming the field") {
  struct Case {
    std::string text, expect;
  };
  for (const auto& c : std::vector<Case>{
           {"", "not JSON"},
           {"[1]", "not a JSON object"},
           {"{}", "no header"},
           {R"({"header":{"revision":"x7"}})", "header.revision"},
           {R"({"header":{"revision":"1"},"kvs":{}})", "range.kvs: not a list"},
           {R"({"header":{"revision":"1"},"kvs":[5]})", "range.kvs[0]"},
           {R"({"header":{"revision":"1"},"kvs":[{"key":"!!!!"}]})", "range.kvs[0].key"},
           {R"({"header":{"revision":"1"},"kvs":[{"key":"Zm9v","mod_revision":[]}]})", "mod_revision"},
           {R"({"header":{"revision":"1"},"more":"yes"})", "range.more"},
           {R"({"error":"etcdserver: request timed out","code":14})", "request timed out"},
           {R"({"error":{"grpc_code":14,"message":"unavailable"}})", "unavailable"},
       }) {
    INFO(c.text);
    auto range = parse_range(c.text);
    REQUIRE_FALSE(range.ok());
    CHECK_THAT(range.error().message, Catch::Contains(c.expect));
  }
}

TEST_CASE("a txn answer: succeeded is left out when false") {
  auto ok = parse_txn(std::string("{") + kHeader + R"(,"succeeded":true})");
  REQUIRE(ok.ok());
  CHECK(ok->succeeded);
  auto refused = parse_txn(std::string("{") + kHeader + "}");
  REQUIRE(refused.ok());
  CHECK_FALSE(refused->succeeded);
  CHECK_FALSE(parse_txn(std::string("{") + kHeader + R"(,"succeeded":"true"})").ok());
}

TEST_CASE("watch stream messages: created, events, compacted, canceled") {
  auto wrap = [](const std::string& body) { return std::string(R"({"result":{)") + kHeader + body + "}}"; };
  CHECK(parse_watch(wrap(R"(,"created":true)"))->kind == WatchMessage::Kind::created);
  auto events = parse_watch(wrap(R"(,"events":[{"kv":{"key":"Zm9v"}}])"));
  REQUIRE(events.ok());
  CHECK(events->kind == WatchMessage::Kind::events);
  CHECK(events->events == 1);
  auto compacted = parse_watch(wrap(R"(,"canceled":true,"compact_revision":"4")"));
  REQUIRE(compacted.ok());
  CHECK(compacted->kind == WatchMessage::Kind::compacted);
  CHECK(compacted->compact_revision == 4);
  auto canceled = parse_watch(wrap(R"(,"canceled":true,"cancel_reason":"no leader")"));
  CHECK(canceled->kind == WatchMessage::Kind::canceled);
  CHECK(canceled->reason == "no leader");
  CHECK(parse_watch(wrap(""))->kind == WatchMessage::Kind::progress);
  CHECK_FALSE(parse_watch(R"({"result":5})").ok());
  CHECK_FALSE(parse_watch(wrap(R"(,"events":{})")).ok());
  auto error = parse_watch(R"({"error":{"grpc_code":11,"message":"mvcc: required revision is a future revision"}})");
  REQUIRE_FALSE(error.ok());
  CHECK_THAT(error.error().message, Catch::Contains("future revision"));
}

TEST_CASE("lease answers: grant and keepalive (a stream message)") {
  auto grant = parse_lease(std::string("{") + kHeader + R"(,"ID":"2324035761363714313","TTL":"15"})");
  REQUIRE(grant.ok());
  CHECK(grant->id == 2324035761363714313);
  CHECK(grant->ttl == 15);
  auto keepalive = parse_lease(std::string(R"({"result":{)") + kHeader + R"(,"ID":"9"}})");
  REQUIRE(keepalive.ok());
  CHECK(keepalive->ttl == 0);  // expired
}

TEST_CASE("requests carry keys and values in base64 and int64 as strings") {
  TxnRequest txn;
  txn.compares.push_back({"/a/", std::string("/a0"), Compare::Target::mod, Compare::Result::less, 8});
  txn.puts.emplace_back("/a/x", "1");
  txn.deletes.emplace_back("/a/y");
  const json body = txn_request(txn);
  CHECK(body["compare"][0]["key"] == base64_encode("/a/"));
  CHECK(body["compare"][0]["range_end"] == base64_encode("/a0"));
  CHECK(body["compare"][0]["target"] == "MOD");
  CHECK(body["compare"][0]["result"] == "LESS");
  CHECK(body["compare"][0]["mod_revision"] == "8");
  CHECK(body["success"][0]["request_put"]["value"] == base64_encode("1"));
  CHECK(body["success"][1]["request_delete_range"]["key"] == base64_encode("/a/y"));
  CHECK(watch_request("/a/", "/a0", 12)["create_request"]["start_revision"] == "12");
  CHECK(put_request("k", "v", 5)["lease"] == "5");
  CHECK_FALSE(put_request("k", "v", 0).contains("lease"));
}
