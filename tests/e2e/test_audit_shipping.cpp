// Audit to one place: agentd sends its OCSF events to the host's syslog
// socket (--audit-syslog), the host's rsyslog forwards them with the
// shipped rule (packaging/rsyslog/agentd-forward.conf, RELP), and a
// central rsyslog with the shipped receiver (agentd-central.conf) writes
// one JSON line per event, naming the host. Two agent hosts (worlds of
// their own, linked on 192.0.2.0/24), real rsyslogd processes. A receiver that goes away loses
// nothing: the host's queue holds the events until it is back.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "approvals_helpers.hpp"
#include "expectations.hpp"
#include "policies.hpp"
#include "hosts.hpp"
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

// One agent host: its rsyslog (the shipped forwarding rule, its syslog
// socket agentd's, its name `name`) in the world's host namespace, sending
// to the central receiver at `central`, and agentd started sending there.
pid_t start_agent_host(World& world, const std::string& name, const std::string& central) {
  const fs::path dir = world.dir() / "rsyslog";
  fs::create_directories(dir / "work");
  install_config("agentd-forward.conf", dir / "agentd-forward.conf", {{"central\\.example\\.test", central}});
  const fs::path dev_log = dir / "dev-log";
  std::ofstream(dir / "host.conf") << "global(workDirectory=\"" << (dir / "work").string() << "\" localHostName=\""
                                   << name << "\")\n"
                                   << "module(load=\"imuxsock\" SysSock.Use=\"off\")\n"
                                   << "input(type=\"imuxsock\" Socket=\"" << dev_log.string() << "\")\n"
                                   << "include(file=\"" << (dir / "agentd-forward.conf").string() << "\")\n";
  const pid_t pid = world.spawn_in_host(
      {"rsyslogd", "-n", "-f", (dir / "host.conf").string(), "-i", (dir / "host.pid").string()}, "rsyslog-host");
  for (int i = 0; i < 100 && !fs::exists(dev_log); ++i) usleep(50'000);
  REQUIRE(fs::exists(dev_log));
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd({"--audit-syslog", "local0", "--audit-syslog-socket", dev_log.string()}));
  return pid;
}

}  // namespace

TEST_CASE("audit events of two hosts reach one central rsyslog, named by host, and survive the receiver's restart",
          "[kernel-neutral]") {
  World host_a;
  World host_b;
  require_tools({"rsyslogd"});
  link_hosts(host_a, host_b);  // host_a at 192.0.2.1, where the central receiver listens

  // The central receiver with the shipped rule, one file for both hosts.
  const fs::path central_dir = host_a.dir() / "central";
  fs::create_directories(central_dir / "work");
  const fs::path central_file = central_dir / "fleet-audit.jsonl";
  install_config("agentd-central.conf", central_dir / "agentd-central.conf",
                 {{"/var/log/agentd/fleet-audit\\.jsonl", central_file.string()}});
  std::ofstream(central_dir / "central.conf")
      << "global(workDirectory=\"" << (central_dir / "work").string() << "\")\n"
      << "include(file=\"" << (central_dir / "agentd-central.conf").string() << "\")\n";
  const std::vector<std::string> central = {
      "rsyslogd", "-n", "-f", (central_dir / "central.conf").string(), "-i", (central_dir / "central.pid").string()};
  pid_t central_pid = host_a.spawn_in_host(central, "rsyslog-central");

  const pid_t relay_a = start_agent_host(host_a, "host-a", "192.0.2.1");
  const pid_t relay_b = start_agent_host(host_b, "host-b", "192.0.2.1");
  expect_refused(connect_from(host_a, "acme/eng/coder-1", kDest, kPort));
  expect_refused(connect_from(host_b, "acme/eng/coder-2", kDest, kPort));
  for (const char* host : {"host-a", "host-b"}) {
    json line = wait_for_denial(central_file, host, kDest, kPort);
    INFO(host << ":\n" << read_text(central_file));
    REQUIRE(line.is_object());
    CHECK(line["event"]["actor"]["process"]["name"] == "netprobe");
  }
  auto status = daemon_status(host_a);
  INFO(status.dump());
  CHECK(status["approvals"]["audit_syslog"]["sent"].get<uint64_t>() >= 1);

  // An operator's answer is an event too.
  json request = wait_for_request(host_a, "acme/eng/coder-1", kDest, kPort);
  REQUIRE(agentctl_json(host_a, {"approvals", "deny", std::to_string(id_of(request))}).is_object());

  // The receiver goes away; what happens meanwhile waits in the hosts'
  // queues and arrives once it is back.
  kill(central_pid, SIGTERM);
  host_a.wait_spawned(central_pid, "rsyslog-central");
  expect_refused(connect_from(host_b, "acme/eng/coder-2", kDest, 8081));
  central_pid = host_a.spawn_in_host(central, "rsyslog-central-again");
  CHECK(wait_for_denial(central_file, "host-b", kDest, 8081).is_object());
  bool decision = false;
  // Network Activity "Other": the operator's deny (OCSF type 400199).
  for (const auto& l : central_lines(central_file))
    decision |= l["host"] == "host-a" && l["event"].value("type_uid", 0) == 400199;
  CHECK(decision);

  for (auto [world, pid, name] :
       {std::tuple{&host_a, relay_a, "rsyslog-host"}, std::tuple{&host_b, relay_b, "rsyslog-host"},
        std::tuple{&host_a, central_pid, "rsyslog-central-again"}}) {
    kill(pid, SIGTERM);
    world->wait_spawned(pid, name);
  }
  // agentd serves on, whatever its receiver does.
  CHECK(host_a.agentctl({"status"}).exit_code == 0);
  CHECK(host_b.agentctl({"status"}).exit_code == 0);
}
