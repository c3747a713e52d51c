// Previewing policy without applying it: `policy diff PATH` compares a
// staging dir (or files) with what the running agentd applied and changes
// nothing in the kernel; `policy validate` warns about rules that do
// nothing, fails on them with --strict, answers -o json, and reads hostile
// input (odd bytes, huge files, FIFOs, links, missing paths) without a crash.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "expectations.hpp"
#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Running: 198.51.100.10 on port 80 only, 198.51.100.20 on 8080; the
// candidate: the whole /24 on 80 and 443 for eng.
const char* kRunning = kSwitchPolicyA;
const char* kCandidate = kSwitchPolicyB;

// Valid, with three rules that do nothing (one of them twice over).
const char* kDeadRules = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.64/26
        ports: [443]
      - host: api.example.com
      - host: api.example.com
  - agents: "acme/*/*"
    deny:
      - cidr: 198.51.100.0/24
      - host: "*.example.com"
)";

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

json json_of(const ProcessResult& result) {
  INFO(result.describe());
  auto parsed = json::parse(result.out, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  return parsed;
}

json policy_status(const World& world) {
  auto status = world.agentctl({"status", "-o", "json"});
  INFO(status.describe());
  REQUIRE(status.exit_code == 0);
  return json::parse(status.out)["policy"];
}

}  // namespace

TEST_CASE("policy diff PATH previews a staging dir against the running policy and changes nothing",
          "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kRunning);
  REQUIRE(world.start_agentd());  // the watcher on: the staging dir is what it does not see
  const std::string agent = "acme/eng/coder-1";
  expect_refused(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.10", "443"}));
  const json before = policy_status(world);
  const fs::path staging = world.dir() / "staging";
  write_file(staging / "acme.yaml", kCandidate);

  auto diff = world.agentctl({"policy", "diff", staging.string()});
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 0);
  const std::string live = (world.policy_dir() / "acme.yaml").string();
  const std::string staged = (staging / "acme.yaml").string();
  CHECK(diff.out.find("- acme  acme/*/*: allow 198.51.100.10/32 ports 80 tcp+udp  (" + live + ":6:9)") !=
        std::string::npos);
  CHECK(diff.out.find("+ acme  acme/eng/*: allow 198.51.100.0/24 ports 80,443 tcp+udp  (" + staged + ":6:9)") !=
        std::string::npos);

  auto as_json = world.agentctl({"policy", "diff", staging.string(), "-o", "json"});
  const json parsed = json_of(as_json);
  std::multiset<std::string> lines;
  for (const auto& c : parsed["changes"])
    lines.insert(c["change"].get<std::string>() + " " + c["rule"].get<std::string>());
  CHECK(lines == std::multiset<std::string>{
                     "- acme/*/*: allow 198.51.100.10/32 ports 80 tcp+udp",
                     "- acme/*/*: allow 198.51.100.20/32 ports 8080 tcp+udp",
                     "+ acme/eng/*: allow 198.51.100.0/24 ports 80,443 tcp+udp",
                     "+ acme/eng/*: deny 198.51.100.66/32 ports all tcp+udp",
                 });
  CHECK(parsed["running_digest"] == before["digest"]);
  CHECK(parsed["candidate_digest"] != before["digest"]);

  // Files instead of a dir: the same comparison.
  auto files = world.agentctl({"policy", "diff", staged});
  CHECK(files.exit_code == 0);
  CHECK(files.out == diff.out);

  // Nothing was applied: the same generation, and what the candidate would
  // allow is still refused in the kernel.
  const json after = policy_status(world);
  CHECK(after["generation"] == before["generation"]);
  CHECK(after["digest"] == before["digest"]);
  expect_refused(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.10", "443"}));
  expect_ok(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.20", "8080"}));

  // The live dir itself is no change; without PATH, today's behaviour.
  auto same = world.agentctl({"policy", "diff", world.policy_dir().string()});
  CHECK(same.exit_code == 0);
  CHECK(same.out.find("no changes: the candidate is what agentd enforces") != std::string::npos);
  auto plain = world.agentctl({"policy", "diff"});
  CHECK(plain.out.find("no changes: the policy dir is what agentd enforces") != std::string::npos);

  // An invalid candidate: its errors, with the place, and no comparison.
  write_file(world.dir() / "bad" / "acme.yaml",
             "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n"
             "      - host: *.example.com\n");
  auto bad = world.agentctl({"policy", "diff", (world.dir() / "bad").string()});
  INFO(bad.describe());
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find((world.dir() / "bad" / "acme.yaml").string() + ":6:15: invalid YAML") != std::string::npos);
  CHECK(bad.err.find("quote it") != std::string::npos);
  CHECK(bad.out.empty());
  // Two dirs are no one candidate.
  auto two = world.agentctl({"policy", "diff", staging.string(), world.policy_dir().string()});
  CHECK(two.exit_code == 1);
  CHECK(two.err.find("is a directory: give one policy dir") != std::string::npos);
  CHECK(policy_status(world)["generation"] == before["generation"]);

  // The workflow the README documents: validate, diff, then copy it in.
  auto strict = world.agentctl({"policy", "validate", "--strict", staging.string()});
  CHECK(strict.exit_code == 0);
  fs::copy_file(staging / "acme.yaml", world.policy_dir() / "acme.yaml", fs::copy_options::overwrite_existing);
  for (int i = 0; i < 250 && policy_status(world)["generation"] == before["generation"]; ++i) usleep(20000);
  expect_ok(world.netprobe_in_sandbox(agent, {"connect", "tcp", "198.51.100.10", "443"}));
  auto applied = world.agentctl({"policy", "diff", staging.string()});
  CHECK(applied.out.find("no changes") != std::string::npos);
}

TEST_CASE("policy validate warns about rules that do nothing, --strict fails on them, -o json", "[kernel-neutral]") {
  World world;
  const fs::path file = world.dir() / "lint" / "acme.yaml";
  write_file(file, kDeadRules);
  const std::string f = file.string();

  auto plain = world.agentctl({"policy", "validate", f});
  INFO(plain.describe());
  CHECK(plain.exit_code == 0);
  CHECK(plain.out.find(f + ": valid (tenant acme, 2 rules)") != std::string::npos);
  CHECK(plain.err.find(f + ":6:9: warning: rules[0].allow[0] (cidr 198.51.100.64/26) is shadowed by " + f +
                       ":12:9 rules[1].deny[0] (cidr 198.51.100.0/24)") != std::string::npos);
  CHECK(plain.err.find(f + ":8:9: warning: rules[0].allow[1] (host api.example.com) is shadowed by " + f +
                       ":13:9 rules[1].deny[1] (host *.example.com): the deny glob covers the host") !=
        std::string::npos);
  CHECK(plain.err.find(f + ":9:9: warning: rules[0].allow[2] (host api.example.com) repeats " + f +
                       ":8:9 rules[0].allow[1]") != std::string::npos);

  auto strict = world.agentctl({"policy", "validate", "--strict", f});
  CHECK(strict.exit_code == 1);
  // The repeated allow is shadowed too: four warnings.
  CHECK(strict.err.find("4 warnings, and --strict makes warnings fail") != std::string::npos);

  const json report = json_of(world.agentctl({"policy", "validate", "-o", "json", f}));
  CHECK(report["ok"] == true);
  CHECK(report["errors"].empty());
  REQUIRE(report["warnings"].size() == 4);
  CHECK(report["warnings"][0] ==
        json{{"file", f}, {"line", 6}, {"col", 9}, {"message", report["warnings"][0]["message"]}});
  auto strict_json = world.agentctl({"policy", "validate", "-o", "json", "--strict", f});
  CHECK(strict_json.exit_code == 1);
  CHECK(json_of(strict_json)["ok"] == false);

  // An error: ok false, the place in fields.
  const fs::path broken = world.dir() / "broken" / "acme.yaml";
  write_file(broken,
             "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n"
             "      - cidr: 198.51.100.1/24\n");
  auto error = world.agentctl({"policy", "validate", "-o", "json", (world.dir() / "broken").string()});
  CHECK(error.exit_code == 1);
  const json failed = json_of(error);
  CHECK(failed["ok"] == false);
  REQUIRE(failed["errors"].size() == 1);
  CHECK(failed["errors"][0]["file"] == broken.string());
  CHECK(failed["errors"][0]["line"] == 6);
  CHECK(failed["errors"][0]["col"] == 15);

  // The shipped policies lint clean.
  auto shipped = world.agentctl({"policy", "validate", "--strict", std::string(AGENTD_SOURCE_DIR) + "/policies"});
  INFO(shipped.describe());
  CHECK(shipped.exit_code == 0);
}

TEST_CASE("policy validate and diff read hostile input without a crash, naming the place and reason",
          "[kernel-neutral]") {
  World world;
  const fs::path dir = world.dir() / "hostile";
  fs::create_directories(dir);
  auto validate = [&](const fs::path& path, const std::string& expected) {
    for (const char* command : {"validate", "diff"}) {
      auto result = world.agentctl({"policy", command, path.string()});
      INFO(command << ": " << result.describe());
      CHECK(result.exit_code == 1);
      CHECK(result.err.find(expected) != std::string::npos);
    }
  };
  // Missing.
  validate(dir / "nothing.yaml", (dir / "nothing.yaml").string() + ": cannot read the file: No such file or directory");
  // A FIFO would block a reader; a device never ends.
  REQUIRE(mkfifo((dir / "fifo.yaml").c_str(), 0600) == 0);
  validate(dir / "fifo.yaml", (dir / "fifo.yaml").string() + ": is not a regular file");
  fs::create_symlink("/dev/zero", dir / "zero.yaml");
  validate(dir / "zero.yaml", (dir / "zero.yaml").string() + ": is not a regular file");
  // A link loop.
  fs::create_symlink(dir / "loop.yaml", dir / "loop.yaml");
  validate(dir / "loop.yaml", (dir / "loop.yaml").string() + ": cannot read the file:");
  // Larger than the limit (sparse: no disk used).
  { std::ofstream(dir / "huge.yaml"); }
  fs::resize_file(dir / "huge.yaml", (size_t{64} << 20) + 1);
  validate(dir / "huge.yaml", (dir / "huge.yaml").string() + ": is larger than 64 MiB");
  // NUL, invalid UTF-8 and terminal escapes: a YAML error with the place,
  // and no escape reaches the terminal.
  const char odd_bytes[] = "apiVersion: agentd/v1\ntenant: acme\x1b[31m\n\0\xff\xfe";
  write_file(dir / "odd" / "acme.yaml", std::string(odd_bytes, sizeof(odd_bytes) - 1));
  auto odd = world.agentctl({"policy", "validate", (dir / "odd" / "acme.yaml").string()});
  INFO(odd.describe());
  CHECK(odd.exit_code == 1);
  CHECK(odd.err.find((dir / "odd" / "acme.yaml").string() + ":") != std::string::npos);
  CHECK(odd.err.find('\x1b') == std::string::npos);
  // A dir whose files are links to what cannot be read: skipped as agentd
  // skips them, and the dir is empty.
  fs::create_directories(dir / "links");
  fs::create_symlink("/dev/zero", dir / "links" / "zero.yaml");
  auto links = world.agentctl({"policy", "validate", (dir / "links").string()});
  CHECK(links.exit_code == 0);
  CHECK(links.out.find("valid (0 tenants") != std::string::npos);
}

TEST_CASE("policy diff PATH by a viewer of one tenant compares that tenant only", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kRunning);
  world.write_policy("globex.yaml", kGlobexPolicy);
  // Numeric ids no account uses: a viewer of acme, and the socket's group.
  const std::string socket_group = "47721", viewer = "47722";
  const auto roles = world.dir() / "roles.yaml";
  std::ofstream(roles) << "roles:\n  - users: [\"" << viewer << "\"]\n    role: viewer\n    tenants: [acme]\n";
  fs::permissions(world.dir(), fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
  REQUIRE(world.start_agentd({"--roles", roles.string(), "--socket-group", socket_group}));
  // The candidate changes both tenants.
  const fs::path staging = world.dir() / "staging";
  write_file(staging / "acme.yaml", kCandidate);
  write_file(staging / "globex.yaml",
             "apiVersion: agentd/v1\ntenant: globex\nrules:\n  - agents: \"globex/*/*\"\n"
             "    allow:\n      - cidr: 203.0.113.0/24\n");
  auto diff = world.in_host({"setpriv", "--reuid=" + viewer, "--regid=" + viewer, "--groups=" + socket_group,
                             agentctl_bin(), "--socket", world.socket().string(), "policy", "diff", staging.string()});
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 0);
  CHECK(diff.out.find("+ acme  acme/eng/*: allow 198.51.100.0/24") != std::string::npos);
  CHECK(diff.out.find("globex") == std::string::npos);
  CHECK(diff.err.find("compared tenants acme only: your role covers those") != std::string::npos);
  // root sees both.
  auto all = world.agentctl({"policy", "diff", staging.string()});
  CHECK(all.out.find("+ globex  globex/*/*: allow 203.0.113.0/24") != std::string::npos);
}

TEST_CASE("policy diff names the standing grants a candidate would revoke or make redundant", "[kernel-neutral]") {
  World world;
  world.write_policy("acme.yaml", kRunning);
  REQUIRE(world.start_agentd({"--no-watch"}));
  const std::string agent = "acme/eng/coder-1";
  auto grant_id = [&](const std::string& dest) {
    auto added = world.agentctl({"grants", "add", "--agent", agent, "--dest", dest, "-o", "json"});
    INFO(added.describe());
    REQUIRE(added.exit_code == 0);
    return json::parse(added.out)["grant"]["id"].get<uint64_t>();
  };
  const uint64_t covered = grant_id("198.51.100.10:443");  // the candidate allows it by rule
  const uint64_t denied = grant_id("198.51.100.66:9000");  // the candidate denies it
  grant_id("198.51.100.30:9000");                          // the candidate says nothing of it
  const fs::path staging = world.dir() / "staging";
  write_file(staging / "acme.yaml", kCandidate);

  auto check = [&](const json& grants) {
    INFO(grants.dump());
    REQUIRE(grants.is_array());
    REQUIRE(grants.size() == 2);  // the one it leaves as it is is not listed
    for (const auto& g : grants) {
      if (g["id"] == covered) {
        CHECK(g["fate"] == "redundant");
        CHECK(g["why"].get<std::string>().find("allowed by") != std::string::npos);
      } else {
        CHECK(g["id"] == denied);
        CHECK(g["fate"] == "revoked");
        CHECK(g["why"].get<std::string>().find("198.51.100.66/32") != std::string::npos);
      }
    }
  };
  // A staging dir, compared by agentctl...
  check(json_of(world.agentctl({"policy", "diff", staging.string(), "-o", "json"}))["grants"]);
  auto text = world.agentctl({"policy", "diff", staging.string()});
  CHECK(text.out.find("! grant " + std::to_string(denied) +
                      " (acme/eng/coder-1 -> 198.51.100.66:9000/tcp): revoked on apply") != std::string::npos);
  CHECK(text.out.find("~ grant " + std::to_string(covered) +
                      " (acme/eng/coder-1 -> 198.51.100.10:443/tcp): redundant") != std::string::npos);
  CHECK(text.out.find("agentctl grants revoke " + std::to_string(covered)) != std::string::npos);
  // ...and the policy dir, compared by agentd (its watcher off here).
  world.write_policy("acme.yaml", kCandidate);
  check(json_of(world.agentctl({"policy", "diff", "-o", "json"}))["grants"]);
  // The apply does what the diff said: the denied grant goes, the others stay.
  REQUIRE(world.agentctl({"policy", "apply"}).exit_code == 0);
  auto left = json_of(world.agentctl({"grants", "list", "-o", "json"}));
  CHECK(left.size() == 2);
  for (const auto& g : left) CHECK(g["id"] != denied);
}
