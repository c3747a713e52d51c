// How long real clients take to give up on a refusal (issue 16, item 10;
// not a test): from a sandbox, each client tries an address its policy
// denies and a name it does not allow, under each way agentd can refuse:
//  - address: EPERM (the default) or ECONNREFUSED (refuse_with);
//  - name: NXDOMAIN (the default) or REFUSED (--dns-refusal refused).
// The denied address has a server listening (the world's .66:80), so what
// a client sees is only the hook's answer. Prints one table row per client
// and case: seconds until it exited, and its exit status.
//
//   build/tests/bench/bench_give_up [bound seconds per client, default 200]
// BENCH_VERBOSE=1 prints each client's whole output on stderr.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "world.hpp"

using namespace agentd::e2e;

namespace {

// Two tenants alike but for how their denied connects fail.
const char* kPolicy = R"(apiVersion: agentd/v1
tenant: %s
%s
rules:
  - agents: "%s/*/*"
    allow:
      - cidr: 198.51.100.10/32
        ports: [80]
)";

std::string policy_for(const char* tenant, const char* refuse_with) {
  char text[512];
  std::snprintf(text, sizeof text, kPolicy, tenant, refuse_with, tenant);
  return text;
}

// A directory in the world that sandboxed clients may write.
std::string g_writable;

struct Client {
  const char* name;
  // The command for a URL (http://HOST/) and for the host alone.
  std::vector<std::string> (*argv)(const std::string& host);
};

const std::vector<Client> kClients = {
    {"curl",
     [](const std::string& h) {
       return std::vector<std::string>{"curl", "-sS", "-o", "/dev/null", "http://" + h + "/"};
     }},
    {"wget",
     [](const std::string& h) {
       return std::vector<std::string>{"wget", "-q", "-O", "/dev/null", "http://" + h + "/"};
     }},
    {"python urllib",
     [](const std::string& h) {
       return std::vector<std::string>{
           "/usr/bin/python3", "-c", "import urllib.request; urllib.request.urlopen('http://" + h + "/', timeout=600)"};
     }},
    {"pip download",
     [](const std::string& h) {
       // HOME and -d: a directory the sandbox's user may write (main).
       // No config file of the machine's (PIP_CONFIG_FILE=/dev/null); the
       // index trusted, as a local index over http is.
       return std::vector<std::string>{"env",
                                       "HOME=" + g_writable,
                                       "PIP_CONFIG_FILE=/dev/null",
                                       "/usr/bin/python3",
                                       "-m",
                                       "pip",
                                       "download",
                                       "--no-cache-dir",
                                       "--disable-pip-version-check",
                                       "--no-deps",
                                       "-d",
                                       g_writable,
                                       "--index-url",
                                       "http://" + h + "/simple",
                                       "--trusted-host",
                                       h,
                                       "example"};
     }},
    {"git ls-remote",
     [](const std::string& h) {
       return std::vector<std::string>{"git", "ls-remote", "http://" + h + "/repo.git"};
     }},
    {"node http.get",
     [](const std::string& h) {
       return std::vector<std::string>{
           "node", "-e",
           "require('http').get('http://" + h +
               "/', () => process.exit(0)).on('error', e => { console.error(e.code); process.exit(1); })"};
     }},
    {"Go net/http",
     [](const std::string& h) {
       return std::vector<std::string>{E2E_GO_TLS, h, h + ":443"};
     }},
};

// The resolvers alone, for the name cases.
const std::vector<Client> kResolvers = {
    {"glibc getent",
     [](const std::string& h) {
       return std::vector<std::string>{"getent", "ahosts", h};
     }},
    {"musl getaddrinfo",
     [](const std::string& h) {
       return std::vector<std::string>{MUSL_RESOLVE_BIN, h};
     }},
    {"Go resolver",
     [](const std::string& h) {
       return std::vector<std::string>{GO_RESOLVE_BIN, h};
     }},
};

struct Timing {
  double seconds;
  int exit_code;
  std::string said;  // the last line it wrote, to see why it ended
};

std::string last_line_of(const std::string& out, const std::string& err) {
  const std::string& text = err.find_first_not_of(" \n") != std::string::npos ? err : out;
  auto end = text.find_last_not_of(" \n");
  if (end == std::string::npos) return "";
  auto start = text.rfind('\n', end);
  std::string line =
      text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
  return line.size() > 70 ? line.substr(0, 70) + "..." : line;
}

Timing time_in_sandbox(const World& world, const std::string& agent, std::vector<std::string> argv, int bound) {
  argv.insert(argv.begin(), {"timeout", std::to_string(bound)});
  const auto started = std::chrono::steady_clock::now();
  auto result = world.in_sandbox(agent, argv);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (std::getenv("BENCH_VERBOSE"))  // NOLINT(concurrency-mt-unsafe): nothing sets it
    std::fprintf(stderr, "%s\n", result.describe().c_str());
  return {seconds, result.exit_code, last_line_of(result.out, result.err)};
}

void print(const char* client, const char* target, const char* how, const Timing& t, int bound) {
  std::printf("| %-16s | %-7s | %-12s | %8.2f s | %s: %s |\n", client, target, how, t.seconds,
              t.exit_code == 124 ? "still trying at the bound" : ("exit " + std::to_string(t.exit_code)).c_str(),
              t.said.c_str());
  (void)bound;
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int bound = argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 200;
  World world;
  g_writable = (world.dir() / "writable").string();
  std::filesystem::create_directories(g_writable);
  std::filesystem::permissions(g_writable, std::filesystem::perms::all);
  world.write_policy("eperm.yaml", policy_for("eperm", ""));
  world.write_policy("refusing.yaml", policy_for("refusing", "refuse_with: econnrefused"));
  std::printf("| client           | target  | refused with | gave up in | how it ended: its last line |\n");
  std::printf("|------------------|---------|--------------|------------|-----------------------------|\n");
  for (const char* dns_refusal : {"refused", "nxdomain"}) {
    if (!world.start_agentd({"--dns-refusal", dns_refusal})) {
      std::fprintf(stderr, "agentd did not start:\n%s\n", world.agentd_log().c_str());
      return 1;
    }
    const char* how = std::string(dns_refusal) == "refused" ? "REFUSED" : "NXDOMAIN";
    for (const auto& c : kClients)
      print(c.name, "name", how, time_in_sandbox(world, "eperm/b/client", c.argv("denied.example.test"), bound), bound);
    for (const auto& c : kResolvers)
      print(c.name, "name", how, time_in_sandbox(world, "eperm/b/client", c.argv("denied.example.test"), bound), bound);
    if (std::string(dns_refusal) == "nxdomain") {
      for (const auto& c : kClients) {
        print(c.name, "address", "EPERM", time_in_sandbox(world, "eperm/b/client", c.argv("198.51.100.66"), bound),
              bound);
        print(c.name, "address", "ECONNREFUSED",
              time_in_sandbox(world, "refusing/b/client", c.argv("198.51.100.66"), bound), bound);
      }
    }
    world.kill_agentd(SIGTERM);
  }
  return 0;
}
