// Helpers of the approvals e2e tests: agentctl with JSON answers, waits
// for what the daemon does on its timers (bounded readiness waits).
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wait.hpp"
#include "world.hpp"

namespace agentd::e2e {

// coder-* of kAcmePolicy may reach 198.51.100.0/24 on ports 80, 9000 and
// 5353 only, globex 198.51.100.20:80: port 8080 is a destination no rule
// decides, a question for an operator.
inline constexpr const char* kDest = "198.51.100.20";
inline constexpr int kPort = 8080;

inline uint64_t id_of(const nlohmann::json& request) {
  REQUIRE(request.is_object());
  return request["id"].get<uint64_t>();
}

// agentctl ARGS -o json, parsed; null when it failed.
inline nlohmann::json agentctl_json(const World& world, std::vector<std::string> args) {
  args.insert(args.end(), {"-o", "json"});
  auto result = world.agentctl(args);
  INFO(result.describe());
  if (result.exit_code != 0) return nullptr;
  auto parsed = nlohmann::json::parse(result.out, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
}

// The request for (sandbox, dest, port) once agentd has it in the state
// wanted (and, if `count` is given, with at least that many tries).
inline nlohmann::json wait_for_request(const World& world, const std::string& sandbox, const std::string& dest,
                                       int port, const std::string& state = "pending", uint64_t count = 1) {
  nlohmann::json found;
  eventually([&] {
    auto list = agentctl_json(world, {"approvals", "list", "--state", "all"});
    if (list.is_array())
      for (const auto& r : list)
        if (r["sandbox"] == sandbox && r["dest"] == dest && r["port"] == port && r["state"] == state &&
            r["count"].get<uint64_t>() >= count) {
          found = r;
          return true;
        }
    return false;
  });
  return found;
}

// The name request (protocol "dns") of `sandbox` for `name`, once agentd has it.
inline nlohmann::json wait_for_name_request(const World& world, const std::string& sandbox, const std::string& name) {
  nlohmann::json found;
  eventually([&] {
    auto list = agentctl_json(world, {"approvals", "list", "--state", "all"});
    if (list.is_array())
      for (const auto& r : list)
        if (r["sandbox"] == sandbox && r["protocol"] == "dns" && r["host"] == name) {
          found = r;
          return true;
        }
    return false;
  });
  return found;
}

// agentctl status, parsed (the test fails when agentctl does).
inline nlohmann::json daemon_status(const World& world) {
  auto result = world.agentctl({"status", "-o", "json"});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  return nlohmann::json::parse(result.out);
}

// One sandbox's entry in a status answer; null when it has none.
inline nlohmann::json sandbox_in(const nlohmann::json& status, const std::string& agent) {
  for (const auto& s : status["sandboxes"])
    if (s["agent"] == agent) return s;
  return nullptr;
}

inline ProcessResult connect_from(const World& world, const std::string& agent, const std::string& dest, int port) {
  return world.netprobe_in_sandbox(agent, {"connect", "tcp", dest, std::to_string(port)});
}

}  // namespace agentd::e2e
