// What the DNS e2e tests share: dig inside a sandbox, read back; the
// DNS denial records about a name; waiting for a test server's word.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wait.hpp"
#include "world.hpp"

namespace agentd::e2e {

struct DigResult {
  std::string status;               // NOERROR, REFUSED, ...
  std::set<std::string> addresses;  // A and AAAA data of the answer section
  std::string ede;                  // the EDE line, if any
  std::string raw;
};

// Whether `file` holds `text` (a server of the test said it is ready),
// within kExpectedWithin.
inline bool wait_for_text(const std::filesystem::path& file, const std::string& text) {
  return eventually([&] {
    std::ifstream in(file);
    std::stringstream content;
    content << in.rdbuf();
    return content.str().find(text) != std::string::npos;
  });
}

// dig inside the sandbox; `args` are dig's (server, name, type, +tcp).
inline DigResult dig_in(const World& world, const std::string& agent, std::vector<std::string> args) {
  std::vector<std::string> argv = {"dig", "+tries=1", "+time=3", "+noall", "+comments", "+answer"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = world.in_sandbox(agent, argv);
  DigResult dig;
  dig.raw = result.describe();
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (auto at = line.find("status: "); at != std::string::npos)
      dig.status = line.substr(at + 8, line.find(',', at) - at - 8);
    if (line.find("EDE:") != std::string::npos) dig.ede = line;
    if (!line.empty() && line[0] != ';') {
      std::istringstream fields(line);
      std::string owner, ttl, klass, type, data;
      fields >> owner >> ttl >> klass >> type >> data;
      if (type == "A" || type == "AAAA") dig.addresses.insert(data);
    }
  }
  return dig;
}

inline std::vector<nlohmann::json> dns_denials(const World& world, const std::string& name) {
  std::vector<nlohmann::json> found;
  for (int i = 0; i < 100 && found.empty(); ++i) {
    for (const auto& d : world.denials())
      if (d.value("name", "") == name || d.value("host", "") == name) found.push_back(d);
    if (found.empty()) usleep(50'000);
  }
  return found;
}

}  // namespace agentd::e2e
