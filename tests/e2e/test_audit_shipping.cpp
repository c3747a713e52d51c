// Audit to one place: agentd sends its OCSF events to the host's syslog
// socket (--audit-syslog), the host's rsyslog forwards them with the
// shipped rule (packaging/rsyslog/agentd-forward.conf, RELP), and a
// central rsyslog with the shipped receiver (agentd-central.conf) writes
// one JSON line per event, naming the host. Real rsyslogd processes: the
// host's in the world's host namespace, the central one in the network
// namespace at a documentation address. A receiver that goes away loses
// nothing: the host's queue holds the events until it is back.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A shipped config with its placeholders replaced for this world.
void install_config(const std::string& shipped, const fs::path& to,
                    const std::vector<std::pair<std::string, std::string>>& replace) {
  std::string text = read_text(fs::path(AGENTD_SOURCE_DIR) / "packaging" / "rsyslog" / shipped);
  for (const auto& [from, with] : replace) {
    REQUIRE(std::regex_search(text, std::regex(from)));
    text = std::regex_replace(text, std::regex(from), with);
  }
  std::ofstream(to) << text;
}

// The central receiver's lines, parsed (a line that is not JSON fails).
std::vector<json> central_lines(const fs::path& file) {
  std::vector<json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    auto parsed = json::parse(line, nullptr, false);
    REQUIRE_FALSE(parsed.is_discarded());
    lines.push_back(std::move(parsed));
  }
  return lines;
}

// The central line of host `host` whose event is a denial of dest:port,
// (Network Activity "Open", failed: OCSF type 400101) once it arrived
// (bounded wait; RELP's retry after a receiver restart
// is five seconds).
json wait_for_denial(const fs::path& file, const std::string& host, const std::string& dest, int port) {
  for (int i = 0; i < 600; ++i) {
    for (const auto& line : central_lines(file))
      if (line["host"] == host && line["event"].value("type_uid", 0) == 400101 &&
          line["event"]["dst_endpoint"].value("ip", "") == dest &&
          line["event"]["dst_endpoint"].value("port", 0) == port)
        return line;
    usleep(100'000);
  }
  return nullptr;
}

}  // namespace

TEST_CASE("audit events reach a central rsyslog through the host's, named by host, and survive the receiver's restart",
          "[kernel-neutral]") {
  World world;
  require_tools({"rsyslogd"});
  const fs::path dir = world.dir() / "rsyslog";
  fs::create_directories(dir / "central-work");
  fs::create_directories(dir / "host-work");
  const fs::path central_file = dir / "fleet-audit.jsonl";

  // The central receiver, in the network namespace (198.51.100.10).
  install_config("agentd-central.conf", dir / "agentd-central.conf",
                 {{"/var/log/agentd/fleet-audit\\.jsonl", central_file.string()}});
  std::ofstream(dir / "central.conf") << "global(workDirectory=\"" << (dir / "central-work").string() << "\")\n"
                                      << "include(file=\"" << (dir / "agentd-central.conf").string() << "\")\n";
  const std::vector<std::string> central = {
      "rsyslogd", "-n", "-f", (dir / "central.conf").string(), "-i", (dir / "central.pid").string()};
  pid_t central_pid = world.serve_in_net(central, "rsyslog-central");

  // The agent host's rsyslog: its syslog socket is agentd's, its name host-a.
  install_config("agentd-forward.conf", dir / "agentd-forward.conf", {{"central\\.example\\.test", "198.51.100.10"}});
  const fs::path dev_log = dir / "dev-log";
  std::ofstream(dir / "host.conf") << "global(workDirectory=\"" << (dir / "host-work").string()
                                   << "\" localHostName=\"host-a\")\n"
                                   << "module(load=\"imuxsock\" SysSock.Use=\"off\")\n"
                                   << "input(type=\"imuxsock\" Socket=\"" << dev_log.string() << "\")\n"
                                   << "include(file=\"" << (dir / "agentd-forward.conf").string() << "\")\n";
  const pid_t host_pid = world.spawn_in_host(
      {"rsyslogd", "-n", "-f", (dir / "host.conf").string(), "-i", (dir / "host.pid").string()}, "rsyslog-host");
  for (int i = 0; i < 100 && !fs::exists(dev_log); ++i) usleep(50'000);
  REQUIRE(fs::exists(dev_log));

  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd({"--audit-syslog", "local0", "--audit-syslog-socket", dev_log.string()}));
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, kPort));
  json line = wait_for_denial(central_file, "host-a", kDest, kPort);
  INFO(read_text(central_file));
  INFO(world.agentd_log());
  REQUIRE(line.is_object());
  CHECK(line["event"]["actor"]["process"]["name"] == "netprobe");
  auto status = daemon_status(world);
  INFO(status.dump());
  CHECK(status["approvals"]["audit_syslog"]["sent"].get<uint64_t>() >= 1);

  // An operator's answer is an event too.
  json request = wait_for_request(world, "acme/eng/coder-1", kDest, kPort);
  REQUIRE(agentctl_json(world, {"approvals", "deny", std::to_string(id_of(request))}).is_object());

  // The receiver goes away; what happens meanwhile waits in the host's
  // queue and arrives once it is back.
  kill(central_pid, SIGTERM);
  world.wait_spawned(central_pid, "rsyslog-central");
  expect_refused(connect_from(world, "acme/eng/coder-1", kDest, 8081));
  central_pid = world.serve_in_net(central, "rsyslog-central-again");
  CHECK(wait_for_denial(central_file, "host-a", kDest, 8081).is_object());
  bool decision = false;
  // Network Activity "Other": the operator's deny (OCSF type 400199).
  for (const auto& l : central_lines(central_file)) decision |= l["event"].value("type_uid", 0) == 400199;
  CHECK(decision);

  kill(host_pid, SIGTERM);
  world.wait_spawned(host_pid, "rsyslog-host");
  // agentd serves on, whatever its receiver does.
  CHECK(world.agentctl({"status"}).exit_code == 0);
  CHECK(world.stray_packets() == 0);
}
