// host: and preset: in policy files: errors with file:line:column,
// expansion, narrowing, warnings, the presets dir and the source digest.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "agentd/policy/loader.hpp"
#include "agentd/policy/names.hpp"

using namespace agentd::policy;
namespace fs = std::filesystem;

namespace {

const char* kPypi = R"(apiVersion: agentd/v1
preset: pypi
description: Python Package Index
destinations:
  - host: pypi.org
    ports: [443]
  - host: files.pythonhosted.org
    ports: [443]
)";

const char* kGithub = R"(apiVersion: agentd/v1
preset: github
destinations:
  - host: github.com
    ports: [443, 22]
    protocol: tcp
  - host: api.github.com
    ports: [443]
    protocol: tcp
)";

const PolicyTexts kPresets = {{"presets/pypi.yaml", kPypi}, {"presets/github.yaml", kGithub}};

std::string rules(const std::string& destinations) {
  return "apiVersion: agentd/v1\ntenant: acme\nrules:\n  - agents: \"acme/*/*\"\n    allow:\n" + destinations;
}

std::vector<std::string> errors_of(const LoadResult& result) {
  std::vector<std::string> lines;
  for (const auto& e : result.errors) lines.push_back(e.str());
  return lines;
}

std::vector<std::string> warnings_of(const LoadResult& result) {
  std::vector<std::string> lines;
  for (const auto& w : result.warnings) lines.push_back(w.str());
  return lines;
}

// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "agentd-unit-XXXXXX").string();
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    fs::create_directories((path / name).parent_path());
    std::ofstream(path / name) << text;
  }
};

}  // namespace

TEST_CASE("bad destinations are reported at their line and column") {
  struct Case {
    std::string yaml, error;
  };
  const Case cases[] = {
      {rules("      - host: a_b.example\n"),
       "acme.yaml:6:15: \"a_b.example\" has the character '_' (host names use letters, digits and '-')"},
      {rules("      - host: 198.51.100.7\n"),
       "acme.yaml:6:15: \"198.51.100.7\" is an IP address, not a host name: write it as cidr: 198.51.100.7"},
      {rules("      - host: \"*\"\n"), "acme.yaml:6:15: \"*\" alone would match every name"},
      {rules("      - host: \"api.*.example\"\n"),
       "acme.yaml:6:15: \"api.*.example\": a wildcard must be the whole first label, as in \"*.github.com\""},
      {rules("      - host: [a.example]\n"), "acme.yaml:6:15: host must be a single value"},
      {rules("      - cidr: 10.0.0.0/8\n        host: a.example\n"),
       "acme.yaml:7:9: rules[0].allow[0]: a destination has one of \"cidr\", \"host\" or \"preset\", not both "
       "\"cidr\" and \"host\""},
      {rules("      - host: a.example\n        preset: pypi\n"),
       "acme.yaml:7:9: rules[0].allow[0]: a destination has one of \"cidr\", \"host\" or \"preset\", not both "
       "\"host\" and \"preset\""},
      {rules("      - ports: [443]\n"),
       "acme.yaml:6:9: rules[0].allow[0]: a destination needs \"cidr\", \"host\" or \"preset\""},
      {rules("      - preset: pipy\n"),
       "acme.yaml:6:17: rules[0].allow[0]: unknown preset \"pipy\" (defined: github, pypi; a preset is a file in the "
       "presets dir)"},
      {rules("      - preset: PyPI\n"),
       "acme.yaml:6:17: preset \"PyPI\" is not a valid name ([a-z0-9][a-z0-9_.-]*, at most 63)"},
      {rules("      - preset: github\n        ports: [8443]\n"),
       "acme.yaml:6:9: rules[0].allow[0]: preset \"github\" has no destination on the ports and protocol this entry "
       "narrows it to"},
      {rules("      - preset: github\n        protocol: udp\n"),
       "acme.yaml:6:9: rules[0].allow[0]: preset \"github\" has no destination on the ports"},
      {"apiVersion: agentd/v1\ntenant: acme\ninference:\n  - preset: openai\n",
       "acme.yaml:4:13: inference[0]: unknown preset \"openai\""},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    auto result = parse_policy_texts({{"acme.yaml", c.yaml}}, kPresets);
    CHECK_FALSE(result.ok());
    auto errors = errors_of(result);
    REQUIRE(errors.size() == 1);
    INFO(errors[0]);
    CHECK(errors[0].rfind(c.error, 0) == 0);
  }
}

TEST_CASE("hosts are kept lowercase, and a wildcard over a top-level domain is a warning") {
  auto result = parse_policy_texts({{"acme.yaml", rules("      - host: API.Example.ORG.\n      - host: \"*.com\"\n")}});
  REQUIRE(result.ok());
  const auto& allow = result.policy->tenants()[0].rules[0].allow;
  CHECK(result.policy->endpoint(allow[0]).host == "api.example.org");
  CHECK(result.policy->endpoint(allow[0]).describe() == "acme.yaml:6:9 rules[0].allow[0] (host api.example.org)");
  CHECK(
      warnings_of(result) ==
      std::vector<std::string>{"acme.yaml:7:15: host \"*.com\" matches every name under the top-level domain \"com\""});
}

TEST_CASE("a preset expands in place, and each endpoint says where it came from") {
  const std::string text = rules(R"(      - cidr: 198.51.100.0/24
      - host: example.org
        ports: [80]
      - preset: pypi
)");
  auto result = parse_policy_texts({{"acme.yaml", text}}, kPresets);
  INFO(errors_of(result).size());
  REQUIRE(result.ok());
  CHECK(result.presets == std::vector<std::string>{"github", "pypi"});
  const PolicySet& set = *result.policy;
  const auto& allow = set.tenants()[0].rules[0].allow;
  REQUIRE(allow.size() == 4);
  const Endpoint& files = set.endpoint(allow[3]);
  CHECK(files.host == "files.pythonhosted.org");
  CHECK(files.kind == EndpointKind::allow);
  CHECK(files.tenant == "acme");
  REQUIRE(files.ports.size() == 1);
  CHECK(files.ports[0].lo == 443);
  CHECK(files.describe() ==
        "acme.yaml:9:9 rules[0].allow[2] (preset pypi: host files.pythonhosted.org, presets/pypi.yaml:7:5)");
  CHECK(set.endpoint(allow[2]).describe() ==
        "acme.yaml:9:9 rules[0].allow[2] (preset pypi: host pypi.org, presets/pypi.yaml:5:5)");
}

TEST_CASE("ports and protocol on a preset entry narrow it, never widen it") {
  auto result =
      parse_policy_texts({{"acme.yaml", rules("      - preset: github\n        ports: [22, 80]\n")}}, kPresets);
  REQUIRE(result.ok());
  const auto& allow = result.policy->tenants()[0].rules[0].allow;
  REQUIRE(allow.size() == 1);  // api.github.com has neither port
  const Endpoint& ssh = result.policy->endpoint(allow[0]);
  CHECK(ssh.host == "github.com");
  REQUIRE(ssh.ports.size() == 1);
  CHECK(ssh.ports[0].lo == 22);
  CHECK(ssh.ports[0].hi == 22);
  CHECK(ssh.proto_mask == AGENTD_PROTO_TCP);
  auto decision = decide_name(*result.policy, *parse_agent_name("acme/a/b"), "api.github.com");
  CHECK_FALSE(decision.allowed);
}

TEST_CASE("presets work in inference and deny lists, and a denied inference host is a warning") {
  auto result = parse_policy_texts({{"acme.yaml", R"(apiVersion: agentd/v1
tenant: acme
inference:
  - preset: pypi
rules:
  - agents: "acme/eng/*"
    deny:
      - host: "*.pythonhosted.org"
      - preset: github
)"}},
                                   kPresets);
  REQUIRE(result.ok());
  const PolicySet& set = *result.policy;
  CHECK(set.endpoint(set.tenants()[0].inference[1]).kind == EndpointKind::inference);
  CHECK(set.endpoint(set.tenants()[0].rules[0].deny[2]).host == "api.github.com");
  CHECK(warnings_of(result) ==
        std::vector<std::string>{"acme.yaml:8:9: rules[0].deny[0] cannot deny the tenant's inference endpoint "
                                 "inference[0] (host files.pythonhosted.org): inference endpoints are reachable by "
                                 "every agent of the tenant"});
  auto agent = *parse_agent_name("acme/eng/a");
  CHECK(decide_name(set, agent, "files.pythonhosted.org").allowed);
  CHECK_FALSE(decide_name(set, agent, "api.github.com").allowed);
}

TEST_CASE("preset files: every error at its place, a name defined twice names both files") {
  auto twice = parse_policy_texts({}, {{"presets/a.yaml", kPypi}, {"presets/b.yaml", kPypi}});
  CHECK(errors_of(twice) == std::vector<std::string>{"presets/b.yaml:2:9: preset \"pypi\" is already defined in "
                                                     "presets/a.yaml:2:9: one definition per preset"});

  auto broken =
      parse_policy_texts({{"acme.yaml", rules("      - preset: bad\n")}}, {{"presets/bad.yaml", R"(apiVersion: agentd/v1
preset: bad
colour: red
destinations:
  - host: a..example
  - preset: pypi
)"}});
  // The use of the broken preset is not reported again: its file says why.
  CHECK(errors_of(broken) == std::vector<std::string>{
                                 "presets/bad.yaml:3:1: the preset: unknown key \"colour\" (expected one of: "
                                 "apiVersion, description, destinations, preset)",
                                 "presets/bad.yaml:5:11: \"a..example\" has an empty label (two dots in a row, or a "
                                 "leading dot)",
                                 "presets/bad.yaml:6:5: destinations[1]: unknown key \"preset\" (expected one of: "
                                 "cidr, host, ports, protocol, verify)",
                             });

  auto empty =
      parse_policy_texts({}, {{"presets/x.yaml", "apiVersion: agentd/v1\npreset: x\n"}, {"presets/y.yaml", ""}});
  CHECK(errors_of(empty) ==
        std::vector<std::string>{
            "presets/x.yaml:1:1: missing destinations (the list of hosts or CIDRs the preset allows)",
            "presets/y.yaml:1:1: the file is empty: a preset file needs apiVersion and preset",
        });
}

TEST_CASE("a preset's change changes the source digest") {
  const PolicyTexts tenant = {{"acme.yaml", rules("      - preset: pypi\n")}};
  auto before = parse_policy_texts(tenant, kPresets);
  auto same = parse_policy_texts(tenant, kPresets);
  auto changed = parse_policy_texts(
      tenant, {{"presets/pypi.yaml", std::string(kPypi) + "  - host: pypi.io\n"}, {"presets/github.yaml", kGithub}});
  REQUIRE(before.ok());
  REQUIRE(changed.ok());
  CHECK(before.policy->source_digest() == same.policy->source_digest());
  CHECK(before.policy->source_digest() != changed.policy->source_digest());
}

TEST_CASE("a policy dir reads its presets dir, and files are read with the presets beside them") {
  TempDir dir;
  dir.write("acme.yaml", rules("      - preset: pypi\n"));
  dir.write("presets/pypi.yaml", kPypi);
  dir.write("presets/.pypi.yaml.swp", "not yaml: [");
  dir.write("other/ignored.yaml", "not yaml: [");

  auto loaded = load_policy_dir(dir.path);
  INFO(errors_of(loaded).size());
  REQUIRE(loaded.ok());
  CHECK(loaded.presets == std::vector<std::string>{"pypi"});
  CHECK(loaded.policy->endpoint(1).describe() ==
        "" + (dir.path / "acme.yaml").string() + ":6:9 rules[0].allow[0] (preset pypi: host files.pythonhosted.org, " +
            (dir.path / "presets/pypi.yaml").string() + ":7:5)");

  auto file = load_policy_files({dir.path / "acme.yaml"});
  REQUIRE(file.ok());
  CHECK(file.policy->source_digest() == loaded.policy->source_digest());
  // A preset named on its own validates alone, and only once with its dir.
  auto alone = load_policy_files({dir.path / "presets/pypi.yaml"});
  REQUIRE(alone.ok());
  CHECK(alone.policy->tenants().empty());
  CHECK(load_policy_files({dir.path / "acme.yaml", dir.path / "presets/pypi.yaml"}).ok());

  dir.write("presets/again.yaml", kPypi);
  auto twice = load_policy_dir(dir.path);
  REQUIRE(twice.errors.size() == 1);
  CHECK(twice.errors[0].str() == (dir.path / "presets/pypi.yaml").string() +
                                     ":2:9: preset \"pypi\" is already defined in " +
                                     (dir.path / "presets/again.yaml").string() + ":2:9: one definition per preset");
}

TEST_CASE("the shipped policies and presets validate") {
  auto loaded = load_policy_dir(fs::path(AGENTD_SOURCE_DIR) / "policies");
  for (const auto& e : loaded.errors) FAIL_CHECK(e.str());
  for (const auto& w : loaded.warnings) FAIL_CHECK(w.str());
  REQUIRE(loaded.ok());
  CHECK(loaded.presets == std::vector<std::string>{"anthropic", "gemini", "github", "huggingface", "mistral", "npm",
                                                   "nvidia", "openai", "pypi"});
  auto ds = *parse_agent_name("acme/ds/notebook");
  for (const char* name : {"pypi.org", "files.pythonhosted.org", "huggingface.co", "cdn-lfs.hf.co"})
    CHECK(decide_name(*loaded.policy, ds, name).allowed);
  CHECK_FALSE(decide_name(*loaded.policy, ds, "uploads.acme.example").allowed);
  CHECK_FALSE(decide_name(*loaded.policy, *parse_agent_name("acme/eng/coder-1"), "pypi.org").allowed);
}

TEST_CASE("files that are not policy text are refused with the file and the reason, never read") {
  TempDir dir;
  auto error_of = [](const LoadResult& loaded) {
    REQUIRE_FALSE(loaded.ok());
    REQUIRE(loaded.errors.size() == 1);
    return loaded.errors[0].str();
  };
  const fs::path missing = dir.path / "missing.yaml";
  CHECK(error_of(load_policy_files({missing})) ==
        missing.string() + ": cannot read the file: No such file or directory");
  REQUIRE(mkfifo((dir.path / "fifo.yaml").c_str(), 0600) == 0);
  CHECK(error_of(load_policy_files({dir.path / "fifo.yaml"})).find("fifo.yaml: is not a regular file") !=
        std::string::npos);
  fs::create_directories(dir.path / "sub.yaml");
  CHECK(error_of(load_policy_files({dir.path / "sub.yaml"})).find("sub.yaml: is a directory") != std::string::npos);
  { std::ofstream(dir.path / "huge.yaml"); }
  fs::resize_file(dir.path / "huge.yaml", kMaxPolicyFileBytes + 1);  // sparse
  CHECK(error_of(load_policy_files({dir.path / "huge.yaml"})).find("huge.yaml: is larger than 64 MiB") !=
        std::string::npos);
  // In a dir, what is not a regular file is no policy file: skipped.
  fs::remove(dir.path / "huge.yaml");
  auto loaded = load_policy_dir(dir.path);
  CHECK(loaded.ok());
}

TEST_CASE("a loaded policy keeps its sources, which parse to the same policy") {
  TempDir dir;
  dir.write("acme.yaml", rules("      - preset: pypi\n"));
  dir.write("presets/pypi.yaml", kPypi);
  auto loaded = load_policy_dir(dir.path);
  REQUIRE(loaded.ok());
  const auto& sources = loaded.policy->sources();
  REQUIRE(sources);
  REQUIRE(sources->files.size() == 1);
  CHECK(sources->files[0].first == (dir.path / "acme.yaml").string());
  REQUIRE(sources->presets.size() == 1);
  auto again = parse_policy_texts(sources->files, sources->presets);
  REQUIRE(again.ok());
  CHECK(again.policy->source_digest() == loaded.policy->source_digest());
}
