// Real clients in a sandbox (issue 16): curl, wget, Python's urllib, pip
// (against a local simple index), git over HTTP, node and Go's net/http
// reach what the policy allows by name, and give up at once, with their
// own refusal error, on a denied address (under each refuse_with) and on
// a name the policy does not allow. The bound, 20 s, only guards against
// a client's retry loop; what each takes is in tests/bench/README.md
// (bench_give_up). Their kernel side is every other test's: what is
// checked here is how the clients read agentd's refusals.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "world.hpp"

using namespace agentd::e2e;
namespace fs = std::filesystem;

namespace {

// Two tenants alike but for how a denied connect fails: EPERM (the
// default) and ECONNREFUSED.
const char* kPolicy = R"(apiVersion: agentd/v1
tenant: %s
%s
rules:
  - agents: "%s/*/*"
    allow:
      - host: allowed.example.test
        ports: [8000]
)";

std::string policy_for(const char* tenant, const char* refuse_with) {
  char text[512];
  std::snprintf(text, sizeof text, kPolicy, tenant, refuse_with, tenant);
  return text;
}

constexpr const char* kPython = "/usr/bin/python3";
constexpr int kBoundSeconds = 20;

struct Client {
  std::string name;
  // The command that fetches from BASE ("http://host:port").
  std::vector<std::string> (*argv)(const std::string& base, const std::string& writable);
  // What it says when the connect is refused with EPERM, with
  // ECONNREFUSED, and when the name does not resolve (any one of each).
  std::vector<std::string> eperm, refused, no_name;
  bool retries_eperm = false;  // wget: EPERM is a "temporary" failure to it
};

std::string host_of(const std::string& base) {
  const auto start = base.find("//") + 2;
  return base.substr(start, base.rfind(':') - start);
}

const std::vector<Client>& clients() {
  static const std::vector<Client> list = {
      {"curl",
       [](const std::string& b, const std::string&) {
         return std::vector<std::string>{"curl", "-sS", "-o", "/dev/null", b + "/"};
       },
       {"Couldn't connect", "Permission denied", "Operation not permitted"},
       {"Connection refused", "Couldn't connect"},
       {"Could not resolve host"}},
      {"wget",
       [](const std::string& b, const std::string&) {
         return std::vector<std::string>{"wget", "-nv", "-O", "/dev/null", b + "/"};
       },
       {"Operation not permitted"},
       {"Connection refused"},
       {"unable to resolve host address"},
       true},
      {"python urllib",
       [](const std::string& b, const std::string&) {
         return std::vector<std::string>{kPython, "-c",
                                         "import urllib.request; urllib.request.urlopen('" + b + "/', timeout=60)"};
       },
       {"Operation not permitted"},
       {"Connection refused"},
       {"Name or service not known", "No address associated", "Temporary failure in name resolution"}},
      {"pip download",
       [](const std::string& b, const std::string& w) {
         return std::vector<std::string>{"env",
                                         "HOME=" + w,
                                         "PIP_CONFIG_FILE=/dev/null",
                                         kPython,
                                         "-m",
                                         "pip",
                                         "download",
                                         "--no-cache-dir",
                                         "--disable-pip-version-check",
                                         "--no-deps",
                                         "-d",
                                         w,
                                         "--index-url",
                                         b + "/simple",
                                         "--trusted-host",
                                         host_of(b),
                                         "example"};
       },
       {"Operation not permitted"},
       {"Connection refused"},
       {"Name or service not known", "No address associated", "Temporary failure in name resolution",
        "Failed to resolve"}},
      {"git ls-remote",
       [](const std::string& b, const std::string& w) {
         return std::vector<std::string>{"env", "HOME=" + w, "GIT_TERMINAL_PROMPT=0",
                                         "git", "ls-remote", b + "/repo.git"};
       },
       {"Couldn't connect", "Failed to connect"},
       {"Couldn't connect", "Failed to connect", "Connection refused"},
       {"Could not resolve host"}},
      {"node http.get",
       [](const std::string& b, const std::string&) {
         return std::vector<std::string>{"node", "-e",
                                         "require('http').get('" + b +
                                             "/', r => { r.resume(); r.on('end', () => process.exit(0)); })"
                                             ".on('error', e => { console.error(e.code); process.exit(1); })"};
       },
       {"EPERM"},
       {"ECONNREFUSED"},
       {"ENOTFOUND", "EAI_AGAIN"}},
      {"Go net/http",
       [](const std::string& b, const std::string&) {
         return std::vector<std::string>{E2E_GO_GET, b + "/"};
       },
       {"operation not permitted"},
       {"connection refused"},
       {"no such host", "server misbehaving"}},
  };
  return list;
}

struct Run {
  ProcessResult result;
  double seconds = 0;
};

Run run_in(const World& world, const std::string& agent, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"timeout", std::to_string(kBoundSeconds)});
  const auto started = std::chrono::steady_clock::now();
  Run run{world.in_sandbox(agent, argv), 0};
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return run;
}

bool says_one_of(const ProcessResult& r, const std::vector<std::string>& words) {
  for (const auto& w : words)
    if (r.out.find(w) != std::string::npos || r.err.find(w) != std::string::npos) return true;
  return false;
}

void serve_site(World& world) {
  const fs::path site = world.dir() / "site";
  auto made = run_process({"sh", AGENTD_SOURCE_DIR "/tests/e2e/clients/make_site.sh", site.string()});
  INFO(made.describe());
  REQUIRE(made.exit_code == 0);
  world.serve_in_net(
      {kPython, "-u", "-m", "http.server", "8000", "--bind", "198.51.100.10", "--directory", site.string()}, "site");
  for (int i = 0; i < 200; ++i) {
    std::ifstream out(world.dir() / "site.out");
    std::stringstream text;
    text << out.rdbuf();
    if (text.str().find("Serving HTTP") != std::string::npos) return;
    usleep(50'000);
  }
  FAIL("the site's http.server did not start: " << (world.dir() / "site.out").string());
}

}  // namespace

TEST_CASE("real clients reach what the policy allows and give up at once with their own refusal", "[kernel-neutral]") {
  World world;
  world.write_policy("eperm.yaml", policy_for("eperm", ""));
  world.write_policy("refusing.yaml", policy_for("refusing", "refuse_with: econnrefused"));
  serve_site(world);
  REQUIRE(world.start_agentd());
  INFO(world.agentd_log());
  const fs::path writable = world.dir() / "writable";
  fs::create_directories(writable);
  fs::permissions(writable, fs::perms::all);

  for (const Client& c : clients()) {
    SECTION(c.name) {
      // Allowed by name: the fetch works, through the DNS proxy and the
      // name check of its HTTP request.
      auto allowed = run_in(world, "eperm/b/" + std::to_string(&c - clients().data()),
                            c.argv("http://allowed.example.test:8000", writable.string()));
      INFO(c.name << " allowed: " << allowed.result.describe());
      CHECK(allowed.result.exit_code == 0);

      // A denied address: a refusal, told at once.
      auto refused = run_in(world, "refusing/b/client", c.argv("http://198.51.100.66:80", writable.string()));
      INFO(c.name << " ECONNREFUSED: " << refused.result.describe());
      CHECK(refused.result.exit_code != 0);
      CHECK(refused.result.exit_code != 124);  // not still trying at the bound
      CHECK(says_one_of(refused.result, c.refused));
      if (!c.retries_eperm) {
        auto eperm = run_in(world, "eperm/b/client", c.argv("http://198.51.100.66:80", writable.string()));
        INFO(c.name << " EPERM: " << eperm.result.describe());
        CHECK(eperm.result.exit_code != 0);
        CHECK(eperm.result.exit_code != 124);
        CHECK(says_one_of(eperm.result, c.eperm));
      }

      // A name the policy does not allow: no address, told at once.
      auto no_name = run_in(world, "eperm/b/client", c.argv("http://denied.example.test:8000", writable.string()));
      INFO(c.name << " name: " << no_name.result.describe());
      CHECK(no_name.result.exit_code != 0);
      CHECK(no_name.result.exit_code != 124);
      CHECK(says_one_of(no_name.result, c.no_name));
    }
  }
  CHECK(world.stray_packets() == 0);
}
