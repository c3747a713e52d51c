// Ports as policy files and operators write them (policy/ports).
#include <catch2/catch.hpp>

#include "agentd/policy/ports.hpp"

using namespace agentd::policy;

TEST_CASE("a port list reads ports and ranges and prints back the same") {
  auto ports = parse_port_list("80,443,8000-8100", 8);
  REQUIRE(ports);
  REQUIRE(ports->size() == 3);
  CHECK(((*ports)[2].lo == 8000 && (*ports)[2].hi == 8100));
  CHECK(port_list_text(*ports) == "80,443,8000-8100");
  CHECK(port_list_text({}).empty());
}

TEST_CASE("a port list refuses what is not a port and says which") {
  for (const char* bad : {"", "0", "65536", "80,", ",80", "80,,443", "443-80", "http", "80 ", "-1", "1-", "8e1"}) {
    INFO(bad);
    auto ports = parse_port_list(bad, 8);
    REQUIRE_FALSE(ports);
    CHECK_FALSE(ports.error().message.empty());
  }
  auto backwards = parse_port_list("443-80", 8);
  CHECK(backwards.error().message.find("runs backwards") != std::string::npos);
  auto many = parse_port_list("1,2,3", 2);
  REQUIRE_FALSE(many);
  CHECK(many.error().message.find("at most 2") != std::string::npos);
}

TEST_CASE("merged port ranges cover the same ports in the fewest ranges") {
  auto merged = merge_port_ranges({{443, 443}, {80, 80}, {81, 90}, {85, 100}, {8000, 8100}, {444, 444}});
  CHECK(port_list_text(merged) == "80-100,443-444,8000-8100");
  CHECK(merge_port_ranges({}).empty());
  CHECK(port_list_text(merge_port_ranges({{1, 65535}, {443, 443}})) == "1-65535");
}
