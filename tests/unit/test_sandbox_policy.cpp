// The `sandbox:` section: parsing, validation with positions, merging
// along the selectors, the JSON handed to agentctl, and the seccomp
// programs built from it (building needs no root; loading is e2e).
#include <catch2/catch.hpp>

#include "agentd/policy/loader.hpp"
#include "agentd/policy/sandbox_section.hpp"
#include "agentd/policy/syscall_sets.hpp"
#include "agentd/confine/landlock.hpp"
#include "agentd/confine/seccomp_profile.hpp"

using namespace agentd::policy;

namespace {

std::string with_rules(const std::string& rules) { return "apiVersion: agentd/v1\ntenant: acme\nrules:\n" + rules; }

LoadResult parse(const std::string& rules) { return parse_policy_texts({{"acme.yaml", with_rules(rules)}}); }

std::vector<std::string> errors_of(const LoadResult& result) {
  std::vector<std::string> lines;
  for (const auto& e : result.errors) lines.push_back(e.str());
  return lines;
}

SandboxProfile profile_of(const std::string& rules, const std::string& agent) {
  auto result = parse(rules);
  INFO(Catch::Detail::stringify(errors_of(result)));
  REQUIRE(result.ok());
  auto name = parse_agent_name(agent);
  REQUIRE(name);
  return effective_sandbox_profile(*result.policy, *name);
}

// The issue's example, with the placeholder path quoted: in a YAML flow
// list [..] a plain value cannot hold { or }.
const char* kIssueExample = R"(  - agents: "acme/eng/*"
    sandbox:
      user: agent
      filesystem:
        read_only: [/usr, /lib, /etc/ssl]
        read_write: ["/workspace/{agent}", /tmp]
        execute: [/usr/bin, /usr/lib]
      syscalls:
        profile: default
        deny: [ptrace]
        allow: [io_uring_setup]
        action: errno
      require:
        landlock_abi: 4
)";

}  // namespace

TEST_CASE("the issue's sandbox example parses and merges into a profile") {
  auto p = profile_of(kIssueExample, "acme/eng/coder-1");
  REQUIRE(p.user == std::optional<std::string>("agent"));
  CHECK(p.filesystem);
  CHECK(p.read_only == std::vector<std::string>{"/etc/ssl", "/lib", "/usr"});
  CHECK(p.read_write == std::vector<std::string>{"/tmp", "/workspace/coder-1"});
  CHECK(p.execute == std::vector<std::string>{"/usr/bin", "/usr/lib"});
  CHECK(p.profile == SyscallProfileKind::standard);
  CHECK(p.deny == std::vector<std::string>{"ptrace"});
  CHECK(p.allow == std::vector<std::string>{"io_uring_setup"});
  CHECK(p.action == SyscallAction::error);
  CHECK(p.require_landlock_abi == 4);
  CHECK(p.sources == std::vector<std::string>{"acme.yaml:6:7 rules[0].sandbox"});
}

TEST_CASE("an agent no sandbox section selects gets the default profile") {
  auto p = profile_of(kIssueExample, "acme/ops/runner");
  CHECK_FALSE(p.user);
  CHECK_FALSE(p.filesystem);
  CHECK(p.profile == SyscallProfileKind::standard);
  CHECK(p.action == SyscallAction::error);
  CHECK(p.require_landlock_abi == 0);
  CHECK(p.sources.empty());
  // A policy without any sandbox section, and a tenant without policy, too.
  auto empty = parse_policy_texts({{"acme.yaml", "apiVersion: agentd/v1\ntenant: acme\n"}});
  REQUIRE(empty.ok());
  auto none = effective_sandbox_profile(*empty.policy, *parse_agent_name("other/x/y"));
  CHECK(none.profile == SyscallProfileKind::standard);
  CHECK_FALSE(none.filesystem);
}

TEST_CASE("merging: the most specific selector sets scalars, lists add up, a deny beats an allow") {
  const std::string rules = R"(  - agents: "acme/*/*"
    sandbox:
      user: tenant-user
      filesystem:
        read_only: [/usr]
      syscalls:
        profile: strict
        deny: [ptrace, keyctl]
        action: kill
      require:
        landlock_abi: 3
  - agents: "acme/eng/*"
    sandbox:
      user: team-user
      filesystem:
        read_write: ["/work/{team}/{agent}"]
      syscalls:
        allow: [ptrace, io_uring_setup]
  - agents: "acme/eng/coder-1"
    sandbox:
      syscalls:
        profile: default
      require:
        landlock_abi: 2
  - agents: "acme/*/coder-*"
    sandbox:
      user: glob-user
)";
  auto exact = profile_of(rules, "acme/eng/coder-1");
  CHECK(exact.profile == SyscallProfileKind::standard);          // the exact agent name wins
  CHECK(exact.action == SyscallAction::kill);                    // only the tenant rule sets it
  CHECK(exact.user == std::optional<std::string>("team-user"));  // an exact team beats a team glob
  CHECK(exact.read_only == std::vector<std::string>{"/usr"});
  CHECK(exact.read_write == std::vector<std::string>{"/work/eng/coder-1"});
  CHECK(exact.deny == std::vector<std::string>{"keyctl", "ptrace"});
  CHECK(exact.allow == std::vector<std::string>{"io_uring_setup"});  // ptrace denied above: stays denied
  CHECK(exact.require_landlock_abi == 3);                            // the highest requirement
  CHECK(exact.sources.size() == 4);

  auto other_team = profile_of(rules, "acme/ops/coder-2");
  CHECK(other_team.user == std::optional<std::string>("glob-user"));  // more literal characters
  CHECK(other_team.profile == SyscallProfileKind::strict);
  CHECK(other_team.read_write.empty());

  // Equally specific: the later rule wins.
  auto tie = profile_of(R"(  - agents: "acme/eng/*"
    sandbox: {user: first}
  - agents: "acme/eng/*"
    sandbox: {user: second}
)",
                        "acme/eng/x");
  CHECK(tie.user == std::optional<std::string>("second"));
}

TEST_CASE("a path both read_only and read_write is read_write, and /usr/ is /usr") {
  auto p = profile_of(R"(  - agents: "acme/*/*"
    sandbox:
      filesystem:
        read_only: [/data, /usr/]
        read_write: [/data]
)",
                      "acme/a/b");
  CHECK(p.read_only == std::vector<std::string>{"/usr"});
  CHECK(p.read_write == std::vector<std::string>{"/data"});
}

TEST_CASE("sandbox errors name their place") {
  struct Case {
    std::string rules;
    std::vector<std::string> errors;
  };
  const std::vector<Case> cases = {
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      filesystem:\n        read_only: [usr/lib]\n",
       {"acme.yaml:7:21: rules[0].sandbox.filesystem.read_only[0]: \"usr/lib\" is relative: Landlock paths must be "
        "absolute (start with /)"}},
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      filesystem:\n        read_write: [\"/w/{user}\", /a/../b]\n",
       {"acme.yaml:7:22: rules[0].sandbox.filesystem.read_write[0]: \"/w/{user}\" has the unknown placeholder {user} "
        "(known: {tenant} {team} {agent})",
        "acme.yaml:7:35: rules[0].sandbox.filesystem.read_write[1]: \"/a/../b\" has a \"..\" component: write the "
        "path it means"}},
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      syscalls:\n        deny: [ptrace, not_a_syscall]\n",
       {"acme.yaml:7:24: rules[0].sandbox.syscalls.deny[1]: \"not_a_syscall\" is not a syscall libseccomp knows on "
        "x86-64, x32 or i386"}},
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      syscalls:\n        profile: paranoid\n        action: trap\n",
       {"acme.yaml:7:18: rules[0].sandbox.syscalls.profile \"paranoid\" is not default, strict or none",
        "acme.yaml:8:17: rules[0].sandbox.syscalls.action \"trap\" is not errno, kill or log"}},
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      require:\n        landlock_abi: new\n",
       {"acme.yaml:7:23: rules[0].sandbox.require.landlock_abi \"new\" is not a Landlock ABI version (1, 2, ...)"}},
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      user: \"bad user\"\n      seccomp: strict\n",
       {"acme.yaml:6:13: rules[0].sandbox.user: \"bad user\" is not a user name or a numeric uid",
        "acme.yaml:7:7: rules[0].sandbox: unknown key \"seccomp\" (expected one of: filesystem, keep, network, "
        "require, syscalls, user)"}},
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      filesystem:\n        read_only: /usr\n",
       {"acme.yaml:7:20: rules[0].sandbox.filesystem.read_only must be a list of absolute paths, e.g. [/usr, "
        "/workspace/{agent}]"}},
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      network:\n        landlock_ports: maybe\n",
       {"acme.yaml:7:25: rules[0].sandbox.network.landlock_ports \"maybe\" is not true or false"}},
      {"  - agents: \"acme/*/*\"\n    sandbox:\n      keep: forever\n",
       {"acme.yaml:6:13: rules[0].sandbox.keep \"forever\" is not true or false"}},
  };
  for (const auto& c : cases) {
    auto result = parse(c.rules);
    INFO(c.rules);
    CHECK_FALSE(result.ok());
    CHECK(errors_of(result) == c.errors);
  }
}

TEST_CASE("keep: the most specific selector decides which sandboxes outlive their last process") {
  const std::string rules = R"(  - agents: "acme/*/*"
    sandbox:
      keep: true
  - agents: "acme/ci/*"
    sandbox:
      keep: false
)";
  CHECK(profile_of(rules, "acme/eng/coder-1").keep);
  CHECK_FALSE(profile_of(rules, "acme/ci/job-1").keep);
  CHECK_FALSE(profile_of("  - agents: \"acme/*/*\"\n    sandbox:\n      user: tenant-user\n", "acme/eng/coder-1").keep);
  auto back = sandbox_profile_from_json(to_json(profile_of(rules, "acme/eng/coder-1")));
  REQUIRE(back);
  CHECK(back->keep);
  // status asks keep alone, for every sandbox: the same answer as the profile.
  auto loaded = parse(rules);
  REQUIRE(loaded.ok());
  for (const char* who : {"acme/eng/coder-1", "acme/ci/job-1", "globex/a/b"}) {
    INFO(who);
    CHECK(sandbox_kept(*loaded.policy, *parse_agent_name(who)) ==
          effective_sandbox_profile(*loaded.policy, *parse_agent_name(who)).keep);
  }
}

TEST_CASE("placeholders expand per agent") {
  auto agent = *parse_agent_name("acme/eng/coder-1");
  CHECK(expand_path("/w/{tenant}/{team}/{agent}/x", agent) == "/w/acme/eng/coder-1/x");
  CHECK(expand_path("/plain", agent) == "/plain");
}

TEST_CASE("the profile survives its JSON trip to agentctl, and a malformed one is refused") {
  auto p = profile_of(kIssueExample, "acme/eng/coder-1");
  auto back = sandbox_profile_from_json(to_json(p));
  REQUIRE(back);
  CHECK(to_json(*back) == to_json(p));
  auto broken = to_json(p);
  broken["syscalls"]["profile"] = "lenient";
  CHECK_FALSE(sandbox_profile_from_json(broken));
  broken = to_json(p);
  broken.erase("filesystem");
  CHECK_FALSE(sandbox_profile_from_json(broken));
}

TEST_CASE("TCP ports for the Landlock wall come from the allows and inference endpoints") {
  auto result = parse_policy_texts({{"acme.yaml", R"(apiVersion: agentd/v1
tenant: acme
inference:
  - cidr: 203.0.113.7/32
    ports: [443]
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [80, "8000-8002"]
      - cidr: 198.51.100.0/24
        ports: [53]
        protocol: udp
  - agents: "acme/ops/*"
    allow:
      - cidr: 198.51.100.0/24
)"}});
  REQUIRE(result.ok());
  auto eng = effective_sandbox_profile(*result.policy, *parse_agent_name("acme/eng/a"));
  REQUIRE(eng.tcp_connect_ports);
  CHECK(*eng.tcp_connect_ports == std::vector<uint16_t>{80, 443, 8000, 8001, 8002});
  CHECK_FALSE(eng.landlock_tcp_ports);  // off unless asked
  auto ops = effective_sandbox_profile(*result.policy, *parse_agent_name("acme/ops/a"));
  CHECK_FALSE(ops.tcp_connect_ports);  // an allow of every port: nothing to narrow
  // agentd walks the ports once per class and hands them in.
  CHECK(sandbox_tcp_ports(*result.policy, *parse_agent_name("acme/eng/b")) == eng.tcp_connect_ports);
  const TcpPorts cached = sandbox_tcp_ports(*result.policy, *parse_agent_name("acme/eng/b"));
  CHECK(effective_sandbox_profile(*result.policy, *parse_agent_name("acme/eng/a"), &cached).tcp_connect_ports ==
        eng.tcp_connect_ports);
}

TEST_CASE("every named syscall resolves, and each profile builds a seccomp program") {
  for (const auto* names : {&default_denied_syscalls(), &strict_allowed_syscalls()})
    for (const auto& name : *names) {
      INFO(name);
      CHECK(is_known_syscall(name));
    }
  CHECK_FALSE(is_known_syscall("not_a_syscall"));
  for (auto kind : {SyscallProfileKind::none, SyscallProfileKind::standard, SyscallProfileKind::strict})
    for (auto action : {SyscallAction::error, SyscallAction::kill, SyscallAction::log}) {
      SandboxProfile p;
      p.profile = kind;
      p.action = action;
      p.deny = {"ptrace", "clone"};
      p.allow = {"io_uring_setup"};
      auto program = agentd::confine::build_seccomp_program(p);
      INFO(name_of(kind) << " " << name_of(action));
      REQUIRE(program);
      CHECK(program->instructions() > 10);
    }
}

TEST_CASE("require above the kernel's Landlock ABI refuses before anything starts") {
  SandboxProfile p;
  p.require_landlock_abi = 200;
  p.sources = {"acme.yaml:5:5 rules[0].sandbox"};
  auto ruleset = agentd::confine::build_landlock_ruleset(p, 3);
  REQUIRE_FALSE(ruleset);
  CHECK(ruleset.error().describe() ==
        "the policy requires Landlock ABI 200 and this kernel has 3; refusing to run weaker (sources: acme.yaml:5:5 "
        "rules[0].sandbox)");
  // Best effort otherwise: what a kernel lacks is a warning, named.
  SandboxProfile files;
  files.filesystem = true;
  auto none = agentd::confine::build_landlock_ruleset(files, 0);
  REQUIRE(none);
  REQUIRE(none->warnings.size() == 1);
  CHECK(none->warnings[0].find("file confinement (no Landlock)") != std::string::npos);
  auto coverage = agentd::confine::landlock_coverage(files, 2);
  CHECK(coverage["files"] == "enforced");
  CHECK(coverage["truncate"] == "not enforced (needs ABI 3)");
  CHECK(coverage["scope_signals"] == "not enforced (needs ABI 6)");
}

TEST_CASE("user: root is allowed, explicitly, with a warning, and another user gets none") {
  for (const char* root : {"root", "\"0\"", "\"000\""}) {
    INFO(root);
    auto result = parse(std::string("  - agents: \"acme/*/*\"\n    sandbox:\n      user: ") + root + "\n");
    REQUIRE(result.ok());
    REQUIRE(result.warnings.size() == 1);
    CHECK(result.warnings[0].str().find("acme.yaml:6:13: rules[0].sandbox.user: the agent runs as root") == 0);
  }
  auto nobody = parse("  - agents: \"acme/*/*\"\n    sandbox:\n      user: nobody\n");
  REQUIRE(nobody.ok());
  CHECK(nobody.warnings.empty());
}
