// DNS gives nothing away (issue 11, item 6): what a sandbox puts in a query
// beyond its question never reaches the upstream, each upstream query
// leaves from a port and with an id of its own, answers that name no site
// (broadcast, multicast) are never learned, and other query types are
// refused.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "dns_helpers.hpp"
#include "expectations.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - host: api.example.test
        ports: [443]
      - host: bcast.example.test
      - host: mixed.example.test
      - host: special.example.test
)";

const std::string kEng = "acme/eng/coder-1";

struct Received {
  int port = 0;
  std::string bytes;
};

// The recorder's lines: "SOURCEPORT HEX".
std::vector<Received> received(const std::filesystem::path& file) {
  std::vector<Received> all;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Received r;
    std::string hex;
    fields >> r.port >> hex;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      r.bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    all.push_back(r);
  }
  return all;
}

bool recorded(const World& world, const std::string& reason, const std::string& field, const std::string& value) {
  return world
      .wait_for_denial([&](const json& d) { return d.value("reason", "") == reason && d.value(field, "") == value; })
      .is_object();
}

}  // namespace

TEST_CASE("a query reaches the upstream rebuilt: no EDNS option, no extra record, a fresh port and id each time") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  const auto log = world.dir() / "upstream.log";
  world.serve_in_net({DNSPROBE_BIN, "record", "198.51.100.20", "5300", log.string()}, "recorder");
  REQUIRE(wait_for_text(world.dir() / "recorder.out", "\"ready\":true"));
  REQUIRE(world.start_agentd({"--dns-upstream", "198.51.100.20:5300"}));

  for (int i = 0; i < 2; ++i) {
    auto sent = world.in_sandbox(kEng, {DNSPROBE_BIN, "hostile", "198.51.100.53", "53", "api.example.test"});
    INFO(sent.describe());
    auto line = last_line(sent);
    REQUIRE(line.is_object());
    CHECK(line.value("ok", false));
    CHECK(line.value("id", 0) == 0x5151);  // the sandbox gets its own id back
    CHECK(line.value("rcode", -1) == 0);
  }
  const auto queries = received(log);
  REQUIRE(queries.size() == 2);
  // "\x03api\x07example\x04test\x00", type A, class IN: lowercase, one question.
  const std::string question(
      "\x03"
      "api"
      "\x07"
      "example"
      "\x04"
      "test"
      "\x00"
      "\x00\x01\x00\x01",
      22);
  // OPT: root owner, type 41, our size 1232, rcode/version 0, DO, no options.
  const std::string opt(
      "\x00"
      "\x00\x29"
      "\x04\xd0"
      "\x00\x00"
      "\x80\x00"
      "\x00\x00",
      11);
  for (const auto& q : queries) {
    INFO("upstream got " << q.bytes.size() << " bytes from port " << q.port);
    for (const char* smuggled : {"SECRET-IN-PADDING", "COOKIE01", "smuggled", "exfiltrated"})
      CHECK(q.bytes.find(smuggled) == std::string::npos);
    REQUIRE(q.bytes.size() == 12 + question.size() + opt.size());
    CHECK(q.bytes.substr(2, 10) == std::string("\x01\x00"
                                               "\x00\x01"
                                               "\x00\x00"
                                               "\x00\x00"
                                               "\x00\x01",
                                               10));  // RD only; 1 question, 1 OPT
    CHECK(q.bytes.substr(12, question.size()) == question);
    CHECK(q.bytes.substr(12 + question.size()) == opt);
    CHECK(q.bytes.substr(0, 2) != "\x51\x51");  // not the sandbox's id
  }
  CHECK(queries[0].port != queries[1].port);
  CHECK(queries[0].bytes.substr(0, 2) != queries[1].bytes.substr(0, 2));
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("broadcast and multicast answers are never learned, the rest of the answer is") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());

  DigResult bcast = dig_in(world, kEng, {"@198.51.100.53", "bcast.example.test"});
  INFO(bcast.raw);
  CHECK(bcast.status == "NOERROR");
  CHECK(bcast.addresses.empty());
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "bcast.example.test", "AAAA"}).addresses.empty());  // ff02::1
  auto records = dns_denials(world, "bcast.example.test");
  REQUIRE_FALSE(records.empty());
  CHECK(records[0]["reason"] == "unlearnable");
  CHECK(records[0]["rule"].get<std::string>().find("255.255.255.255") != std::string::npos);
  CHECK(records[0]["rule"].get<std::string>().find("limited broadcast") != std::string::npos);
  // Not learned, so not open: the kernel refuses before broadcast rules apply.
  expect_refused(world.netprobe_in_sandbox(kEng, {"sendto", "udp", "255.255.255.255", "9000"}));
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "udp", "255.255.255.255", "9000"}));
  CHECK(recorded(world, "no_rule", "dest", "255.255.255.255"));

  DigResult mixed = dig_in(world, kEng, {"@198.51.100.53", "mixed.example.test"});
  INFO(mixed.raw);
  CHECK(mixed.addresses == std::set<std::string>{"198.51.100.20"});
  expect_ok(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "198.51.100.20", "443"}));
  expect_refused(world.netprobe_in_sandbox(kEng, {"sendto", "udp", "224.0.0.1", "9000"}));

  // "This network" (0.0.0.0/8) and an IPv4-mapped AAAA are never learned either.
  DigResult special = dig_in(world, kEng, {"@198.51.100.53", "special.example.test"});
  INFO(special.raw);
  CHECK(special.addresses.empty());
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "special.example.test", "AAAA"}).addresses.empty());
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "0.0.0.7", "443"}));
  expect_refused(world.netprobe_in_sandbox(kEng, {"connect", "tcp", "::ffff:198.51.100.66", "443"}));

  auto status = json::parse(world.agentctl({"status", "-o", "json"}).out);
  INFO(status["dns"].dump());
  CHECK(status["dns"]["unlearnable_refused"].get<int>() >= 5);
  CHECK(world.stray_packets() == 0);
  CHECK(world.forbidden_arrivals() == 0);
}

TEST_CASE("queries of other types or classes are refused with a record, and the proxy keeps serving") {
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  DigResult any = dig_in(world, kEng, {"@198.51.100.53", "api.example.test", "ANY"});
  INFO(any.raw);
  CHECK(any.status == "REFUSED");
  CHECK(any.ede.find("Not Supported") != std::string::npos);
  CHECK(any.ede.find("type ANY is not forwarded") != std::string::npos);
  CHECK(recorded(world, "query_type", "qtype", "ANY"));
  DigResult chaos = dig_in(world, kEng, {"@198.51.100.53", "-c", "CH", "version.bind", "TXT"});
  INFO(chaos.raw);
  CHECK(chaos.status == "REFUSED");
  CHECK(dig_in(world, kEng, {"@198.51.100.53", "api.example.test"}).addresses ==
        std::set<std::string>{"198.51.100.10"});
}
