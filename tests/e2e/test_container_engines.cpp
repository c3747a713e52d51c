// Real Podman and Docker containers as sandboxes (README, "Containers"):
// Podman through the OCI hook the package ships, Docker through
// --cgroup-parent under an adopted cgroup, and `sandbox adopt --container`
// for one that already runs. No registry: the image is busybox-static in
// a tarball, imported. Each container's network namespace is bridged to
// the test world on documentation addresses (192.0.2.0/24, masqueraded
// by the host namespace as a container bridge is), so what it reaches is
// the world's servers and dnsmasq, and nothing else. IPv6 too
// (2001:db8:7::/64): a name's AAAA answer is what busybox tries first.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <catch2/catch.hpp>

#include "agentd/sandbox/cgroup_mount.hpp"
#include "approvals_helpers.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPolicy = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/ops/*"
    allow:
      - host: api.example.test
        ports: [80]
      - cidr: 198.51.100.20/32
        ports: [80]
)";

constexpr const char* kImage = "localhost/agentd-e2e-busybox:1";

// The busybox applets the containers' scripts use.
const std::vector<std::string> kApplets = {"sh",  "ip",   "grep", "nc", "nslookup", "sleep",
                                           "cat", "echo", "test", "[",  "seq"};

// A root filesystem of busybox-static alone, as a tarball to import.
fs::path busybox_tarball(const World& world) {
  const fs::path root = world.dir() / "image";
  fs::path tarball = world.dir() / "image.tar";
  if (fs::exists(tarball)) return tarball;  // one for both engines
  fs::create_directories(root / "bin");
  fs::create_directories(root / "etc");
  fs::create_directories(root / "tmp");
  fs::copy_file("/bin/busybox", root / "bin/busybox", fs::copy_options::overwrite_existing);
  for (const auto& applet : kApplets) fs::create_symlink("busybox", root / "bin" / applet);
  auto tar = run_process({"tar", "-C", root.string(), "-cf", tarball.string(), "."});
  INFO(tar.describe());
  REQUIRE(tar.exit_code == 0);
  return tarball;
}

// Where cgroup2 is not /sys/fs/cgroup the layout is hybrid, and crun
// refuses it ("cgroups in hybrid mode not supported"): runc then.
std::string runtime_for_host() {
  auto mount = agentd::sandbox::find_cgroup2_mount();
  return mount && *mount == "/sys/fs/cgroup" ? "crun" : "runc";
}

// The container's network: a namespace of its own with a veth to the host
// namespace, 192.0.2.2 inside, 192.0.2.1 outside, masqueraded there.
// `target` is a named namespace to make, or /proc/PID/ns/net of a
// container that already has one (Docker's --network none).
class BridgedNetwork {
 public:
  BridgedNetwork(const World& world, const std::string& tag) : world_(world), host_if_("ve" + tag) {
    sh({"sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"});
    std::ofstream(world.dir() / ("nat-" + tag + ".nft"))
        << "table inet agentd_e2e_nat_" << tag << " {\n"
        << "  chain post {\n    type nat hook postrouting priority 100;\n"
        << "    ip saddr 192.0.2.0/24 masquerade\n    ip6 saddr 2001:db8:7::/64 masquerade\n  }\n"
        << "}\n";
    sh({"nft", "-f", (world.dir() / ("nat-" + tag + ".nft")).string()});
  }
  ~BridgedNetwork() {
    if (!name_.empty()) (void)world_.in_host({"ip", "netns", "del", name_});
  }

  // A new named namespace, for Podman's --network ns:PATH.
  std::string make_named(const std::string& name) {
    name_ = name;
    sh({"ip", "netns", "add", name});
    connect("/run/netns/" + name);
    return "/run/netns/" + name;
  }

  // The namespace a running process is in (Docker's --network none).
  void connect(const std::string& netns_path) {
    sh({"ip", "link", "add", host_if_, "type", "veth", "peer", "name", "eth1", "netns", netns_path});
    sh({"ip", "addr", "add", "192.0.2.1/24", "dev", host_if_});
    sh({"ip", "addr", "add", "2001:db8:7::1/64", "dev", host_if_, "nodad"});
    sh({"ip", "link", "set", host_if_, "up"});
    inside(netns_path, {"ip", "link", "set", "lo", "up"});
    // Docker turns IPv6 off in a --network none namespace.
    inside(netns_path, {"sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=0"});
    inside(netns_path, {"ip", "addr", "add", "192.0.2.2/24", "dev", "eth1"});
    inside(netns_path, {"ip", "addr", "add", "2001:db8:7::2/64", "dev", "eth1", "nodad"});
    inside(netns_path, {"ip", "link", "set", "eth1", "up"});
    inside(netns_path, {"ip", "route", "add", "default", "via", "192.0.2.1"});
    inside(netns_path, {"ip", "-6", "route", "add", "default", "via", "2001:db8:7::1"});
  }

 private:
  void sh(std::vector<std::string> argv) const {
    auto result = world_.in_host(std::move(argv));
    INFO(result.describe());
    REQUIRE(result.exit_code == 0);
  }
  void inside(const std::string& netns_path, std::vector<std::string> argv) const {
    argv.insert(argv.begin(), "--net=" + netns_path);
    argv.insert(argv.begin(), "nsenter");
    auto result = run_process(argv);
    INFO(result.describe());
    REQUIRE(result.exit_code == 0);
  }

  const World& world_;
  std::string host_if_, name_;
};

// Podman with its storage, runtime settings and hooks dir in the test's
// dir (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF: agentctl's own `podman
// inspect` sees the same). The hooks dir holds the package's hook file
// with agentctl pointed at the build and the world's socket.
class Podman {
 public:
  explicit Podman(const World& world) : world_(world), root_(world.dir() / "podman") {
    fs::create_directories(root_ / "hooks");
    std::ifstream shipped(E2E_OCI_HOOK_JSON);
    json hook = json::parse(shipped, nullptr, false);
    REQUIRE(hook.is_object());
    // What the package promises: the annotation selects, the hook runs
    // before the container's first instruction.
    CHECK(hook["stages"] == json::array({"createRuntime"}));
    CHECK(hook["when"]["annotations"].contains("^io\\.agentd\\.agent$"));
    CHECK(hook["hook"]["args"] == json::array({"agentctl", "oci-hook"}));
    hook["hook"]["path"] = agentctl_bin();
    hook["hook"]["args"] = json::array({"agentctl", "--socket", world.socket().string(), "oci-hook"});
    std::ofstream(root_ / "hooks" / "agentd.json") << hook.dump(2);
    std::ofstream(root_ / "storage.conf") << "[storage]\ndriver = \"vfs\"\ngraphroot = \"" << (root_ / "graph").string()
                                          << "\"\nrunroot = \"" << (root_ / "run").string() << "\"\n";
    // No CAP_SYS_RESOURCE on every CI machine: limits at or below ours.
    std::ofstream(root_ / "containers.conf")
        << "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
        << "[engine]\nhooks_dir = [\"" << (root_ / "hooks").string() << "\"]\nruntime = \"" << runtime_for_host()
        << "\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \""
        << (root_ / "events.log").string() << "\"\ntmp_dir = \"" << (root_ / "tmp").string() << "\"\n"
        << "static_dir = \"" << (root_ / "static").string() << "\"\n"
        << "[network]\nnetwork_config_dir = \"" << (root_ / "networks").string() << "\"\n";
    setenv("CONTAINERS_CONF", (root_ / "containers.conf").c_str(), 1);  // NOLINT(concurrency-mt-unsafe): one thread
    // NOLINTNEXTLINE(concurrency-mt-unsafe): one thread
    setenv("CONTAINERS_STORAGE_CONF", (root_ / "storage.conf").c_str(), 1);
    auto imported = run({"import", busybox_tarball(world).string(), kImage});
    INFO(imported.describe());
    REQUIRE(imported.exit_code == 0);
  }
  ~Podman() {
    (void)run({"rm", "--all", "--force", "--time", "0"});
    (void)run({"rmi", "--all", "--force"});
    unsetenv("CONTAINERS_CONF");          // NOLINT(concurrency-mt-unsafe): one thread
    unsetenv("CONTAINERS_STORAGE_CONF");  // NOLINT(concurrency-mt-unsafe): one thread
  }

  ProcessResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), "podman");
    return world_.in_host(args);
  }

  // podman run ARGS IMAGE sh -c SCRIPT, in the foreground; `network` a
  // namespace path or empty for none.
  ProcessResult run_script(const std::string& agent, const std::string& network, const std::string& script,
                           std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"run",       "--rm",
                                     "--network", network.empty() ? "none" : "ns:" + network,
                                     "-v",        resolv_conf() + ":/etc/resolv.conf:ro"};
    if (!agent.empty()) args.insert(args.end(), {"--annotation", "io.agentd.agent=" + agent});
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {kImage, "sh", "-c", script});
    return run(args);
  }

  std::string resolv_conf() const {
    const fs::path path = root_ / "resolv.conf";
    if (!fs::exists(path)) std::ofstream(path) << "nameserver 198.51.100.53\n";
    return path.string();
  }

 private:
  const World& world_;
  fs::path root_;
};

// dockerd (Debian's docker.io) in the host namespace with everything of
// its own in the test's dir, no bridge and no iptables of its own.
class Docker {
 public:
  explicit Docker(World& world) : world_(world), root_(world.dir() / "docker") {
    fs::create_directories(root_);
    // The exec root holds unix sockets: a short path.
    exec_root_ = "/run/agentd-e2e-docker-" + std::to_string(::getpid());
    const std::string socket = "unix://" + (root_ / "docker.sock").string();
    pid_ = world.spawn_in_host({"dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
                                "--storage-driver", "vfs", "--data-root", (root_ / "data").string(), "--exec-root",
                                exec_root_, "--pidfile", (root_ / "dockerd.pid").string(), "-H", socket,
                                "--default-ulimit", "nofile=1024:1024", "--default-ulimit", "nproc=1024:1024"},
                               "dockerd");
    setenv("DOCKER_HOST", socket.c_str(), 1);  // NOLINT(concurrency-mt-unsafe): one thread
    bool up = false;
    for (int i = 0; i < 600 && !up; ++i) {  // a bounded readiness wait
      up = run({"version"}).exit_code == 0;
      if (!up) usleep(100'000);
    }
    INFO(read_file(world.dir() / "dockerd.err"));
    REQUIRE(up);
    auto imported = run({"import", busybox_tarball(world).string(), kImage});
    INFO(imported.describe());
    REQUIRE(imported.exit_code == 0);
  }
  ~Docker() {
    auto ids = run({"ps", "--all", "--quiet"});
    std::istringstream lines(ids.out);
    for (std::string id; lines >> id;) (void)run({"rm", "--force", id});
    ::kill(pid_, SIGTERM);
    (void)world_.wait_spawned(pid_, "dockerd");
    unsetenv("DOCKER_HOST");  // NOLINT(concurrency-mt-unsafe): one thread
    std::error_code ec;
    fs::remove_all(exec_root_, ec);
  }

  ProcessResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), "docker");
    return world_.in_host(args);
  }

 private:
  World& world_;
  fs::path root_;
  std::string exec_root_;
  pid_t pid_ = -1;
};

// The audit trail's "sandbox retired" row of `agent`, once it is there.
bool wait_retired(const World& world, const std::string& agent) {
  for (int i = 0; i < 300; ++i) {  // agentd's sweep runs every 5 s
    auto rows = agentctl_json(world, {"audit", "--agent", agent, "--decision", "retired"});
    if (rows.is_array() && !rows.empty()) return true;
    usleep(100'000);
  }
  return false;
}

json sandbox_of(const World& world, const std::string& agent) {
  auto list = agentctl_json(world, {"sandbox", "list"});
  if (list.is_array())
    for (const auto& s : list)
      if (s.value("agent", "") == agent) return s;
  return nullptr;
}

json denial_to(const World& world, const std::string& agent, const std::string& dest) {
  return world.wait_for_denial(
      [&](const json& d) { return d.value("sandbox", "") == agent && d.value("dest", "") == dest; });
}

// What the containers run: each line's outcome on stdout, markers the
// test reads ("denied-first: fail", "cidr: open"). The world's TCP
// servers accept and close: a connect that succeeds is the proof.
const std::string kProbeScript =
    "if echo x | nc -w 3 198.51.100.66 80 2>/dev/null; then echo 'denied-first: open'; else echo 'denied-first: fail'; "
    "fi; "
    "if nc -w 3 198.51.100.20 80 </dev/null; then echo 'cidr: open'; else echo 'cidr: fail'; fi; "
    "if nc -w 3 api.example.test 80 </dev/null; then echo 'name: open'; else echo 'name: fail'; fi; "
    "if nslookup denied.example.test >/dev/null 2>&1; then echo 'refused-name: resolved'; else echo 'refused-name: "
    "refused'; fi";

void check_probe_output(const ProcessResult& result) {
  INFO(result.describe());
  CHECK(result.out.find("denied-first: fail") != std::string::npos);
  CHECK(result.out.find("cidr: open") != std::string::npos);
  CHECK(result.out.find("name: open") != std::string::npos);
  CHECK(result.out.find("refused-name: refused") != std::string::npos);
}

}  // namespace

TEST_CASE("podman: a container annotated with its agent is that agent's sandbox from its first instruction",
          "[each-kernel]") {
  require_tools({"podman", runtime_for_host()});
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd({"--retire-grace", "1s"}));
  Podman podman(world);
  BridgedNetwork network(world, "p" + std::to_string(::getpid() % 100000));
  const std::string netns = network.make_named("agentd-e2e-pod" + std::to_string(::getpid()));
  const std::string agent = "acme/ops/pod-1";

  // The first instruction is a connect the policy denies: the hook placed
  // the container before it ran, so it is refused and recorded as the
  // agent's; names resolve in the container's own namespace by its rules.
  auto result = podman.run_script(agent, netns, kProbeScript);
  check_probe_output(result);
  CHECK(result.exit_code == 0);
  auto denial = denial_to(world, agent, "198.51.100.66");
  INFO(world.agentd_log());
  REQUIRE(denial.is_object());
  CHECK(denial.value("reason", "") == "no_rule");
  CHECK(world
            .wait_for_denial([&](const json& d) {
              return d.value("sandbox", "") == agent && d.value("hook", "") == "dns" &&
                     d.value("name", "") == "denied.example.test";
            })
            .is_object());
  CHECK(world.agentd_log().find("sandbox " + agent + ": serving its DNS in network namespace") != std::string::npos);

  // --rm removed its cgroup: the sandbox is retired, its record stays.
  CHECK(wait_retired(world, agent));
  CHECK(world.stray_packets() == 0);
  CHECK(world.forbidden_arrivals() == 0);
}

TEST_CASE("podman: an approval granted while the container runs opens its way without a restart", "[kernel-neutral]") {
  require_tools({"podman", runtime_for_host()});
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  Podman podman(world);
  BridgedNetwork network(world, "a" + std::to_string(::getpid() % 100000));
  const std::string netns = network.make_named("agentd-e2e-apr" + std::to_string(::getpid()));
  const std::string agent = "acme/ops/pod-2";
  // The container keeps trying until its way is open (bounded: 60 s).
  const std::string script =
      "for i in $(seq 1 300); do if echo x | nc -w 2 198.51.100.66 80 >/dev/null 2>&1; then echo opened; exit 0; fi; "
      "sleep 0.2; done; echo never; exit 1";
  std::vector<std::string> args = {
      "podman", "run", "--rm", "--network", "ns:" + netns, "--annotation", "io.agentd.agent=" + agent,
      kImage,   "sh",  "-c",   script};
  args.insert(args.begin(), {"nsenter", "--net=" + world.host_ns_path()});
  const pid_t container = spawn_process(args, world.dir() / "pod2.out", world.dir() / "pod2.err");
  auto request = wait_for_request(world, agent, "198.51.100.66", 80);
  INFO(world.agentd_log());
  REQUIRE(request.is_object());
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(request["id"].get<uint64_t>()), "--for", "1h"})
              .is_object());
  const int status = stop_process(container, 0, 60000);
  const std::string out = read_file(world.dir() / "pod2.out");
  INFO(out << read_file(world.dir() / "pod2.err"));
  CHECK(status == 0);
  CHECK(out.find("opened") != std::string::npos);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("podman: a container whose hook fails does not start", "[kernel-neutral]") {
  require_tools({"podman", runtime_for_host()});
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  Podman podman(world);
  // A tenant no policy names: refused as a typo, and the container's
  // command never runs.
  auto typo = podman.run_script("acmee/ops/pod-3", "", "echo RAN");
  INFO(typo.describe());
  CHECK(typo.exit_code != 0);
  CHECK(typo.out.find("RAN") == std::string::npos);
  // runc shows the hook's message; crun says only that the hook failed,
  // and agentd's log has the reason.
  if (runtime_for_host() == "runc") {
    CHECK(typo.err.find("acmee") != std::string::npos);
    CHECK(typo.err.find("not started") != std::string::npos);
  }
  CHECK(world.agentd_log().find("as the sandbox of acmee/ops/pod-3 refused") != std::string::npos);
  // agentd not there: no container runs unenforced.
  world.kill_agentd(SIGTERM);
  auto down = podman.run_script("acme/ops/pod-3", "", "echo RAN");
  INFO(down.describe());
  CHECK(down.exit_code != 0);
  CHECK(down.out.find("RAN") == std::string::npos);
  // Without the annotation the hook is not run: an ordinary container.
  auto plain = podman.run_script("", "", "echo RAN");
  INFO(plain.describe());
  CHECK(plain.exit_code == 0);
  CHECK(plain.out.find("RAN") != std::string::npos);
}

TEST_CASE("podman: agentd restarting under a running container leaves it enforced and served", "[kernel-neutral]") {
  require_tools({"podman", runtime_for_host()});
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd({"--retire-grace", "1s"}));
  Podman podman(world);
  BridgedNetwork network(world, "r" + std::to_string(::getpid() % 100000));
  const std::string netns = network.make_named("agentd-e2e-rst" + std::to_string(::getpid()));
  const std::string agent = "acme/ops/pod-4";
  auto started = podman.run({"run", "-d", "--name", "pod4", "--network", "ns:" + netns, "-v",
                             podman.resolv_conf() + ":/etc/resolv.conf:ro", "--annotation", "io.agentd.agent=" + agent,
                             kImage, "sleep", "600"});
  INFO(started.describe());
  REQUIRE(started.exit_code == 0);
  REQUIRE(sandbox_of(world, agent).is_object());

  const size_t log_before = world.agentd_log().size();
  world.kill_agentd(SIGKILL);
  // Fail closed: with agentd gone the container is still denied.
  auto while_down = podman.run({"exec", "pod4", "sh", "-c", "echo x | nc -w 2 198.51.100.66 80 && echo open"});
  INFO(while_down.describe());
  CHECK(while_down.out.find("open") == std::string::npos);
  CHECK(while_down.err.find("Operation not permitted") != std::string::npos);  // refused by the kernel

  REQUIRE(world.start_agentd({"--retire-grace", "1s"}));
  auto restored = sandbox_of(world, agent);
  INFO(restored.dump());
  REQUIRE(restored.is_object());
  CHECK(restored.value("adopted", false));
  // Its namespace is served again from the start, and its rules hold.
  const std::string served = "sandbox " + agent + ": serving its DNS in network namespace";
  const auto log = world.agentd_log();
  CHECK(log.find(served, log_before) != std::string::npos);
  auto after = podman.run({"exec", "pod4", "sh", "-c", kProbeScript});
  check_probe_output(after);

  CHECK(world.forbidden_arrivals() == 0);

  // Restarted, the container has a new cgroup at the same path: the hook
  // adopts it again (the old one is known gone by its id), enforced.
  const auto before = sandbox_of(world, agent);
  auto restarted = podman.run({"restart", "--time", "0", "pod4"});
  INFO(restarted.describe());
  REQUIRE(restarted.exit_code == 0);
  const auto again = sandbox_of(world, agent);
  INFO(again.dump());
  REQUIRE(again.is_object());
  CHECK(again["cgroup_id"] != before["cgroup_id"]);
  auto after_restart = podman.run({"exec", "pod4", "sh", "-c", "echo x | nc -w 2 198.51.100.66 80 && echo open"});
  INFO(after_restart.describe());
  CHECK(after_restart.err.find("Operation not permitted") != std::string::npos);

  // The container ends: its sandbox goes with its cgroup.
  REQUIRE(podman.run({"rm", "--force", "--time", "0", "pod4"}).exit_code == 0);
  // (The restart's retirement is in the audit trail already: wait for the
  // sandbox itself to go.)
  for (int i = 0; i < 300 && sandbox_of(world, agent).is_object(); ++i) usleep(100'000);  // the 5 s sweep
  CHECK_FALSE(sandbox_of(world, agent).is_object());
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("docker: a container under an adopted --cgroup-parent is that sandbox from its first instruction",
          "[kernel-neutral]") {
  require_tools({"dockerd", "docker", "runc"});
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  Docker docker(world);
  const std::string agent = "acme/ops/dock-1";
  const fs::path parent = world.make_foreign_cgroup("dock-1");
  REQUIRE(world.agentctl({"sandbox", "adopt", "--agent", agent, "--cgroup", parent.string()}).exit_code == 0);
  const std::string parent_in_tree = "/" + fs::relative(parent, world.cgroup2_mount()).string();
  std::ofstream(world.dir() / "resolv.conf") << "nameserver 198.51.100.53\n";

  // Docker's own networks are bridges on private ranges: --network none,
  // and the test bridges the container's namespace once it exists. The
  // first instruction needs no network to be refused. No hook tells
  // agentd of the container's namespace before it runs: its first query
  // there may be refused (recorded as dns_netns), and agentd serves the
  // namespace from then on, as a resolver's next try finds.
  const std::string script =
      "if echo x | nc -w 3 198.51.100.66 80 2>/dev/null; then echo 'denied-first: open'; "
      "else echo 'denied-first: fail'; fi; "
      "until ip -6 route show default | grep -q via; do sleep 0.1; done; "
      "nslookup api.example.test >/dev/null 2>&1 || sleep 1; " +
      kProbeScript.substr(kProbeScript.find("if nc -w 3 198.51.100.20")) + "; echo probed; exec sleep 600";
  auto started =
      docker.run({"run", "-d", "--name", "dock1", "--cgroup-parent", parent_in_tree, "--network", "none", "-v",
                  (world.dir() / "resolv.conf").string() + ":/etc/resolv.conf:ro", kImage, "sh", "-c", script});
  INFO(started.describe());
  REQUIRE(started.exit_code == 0);
  auto pid = docker.run({"inspect", "--format", "{{.State.Pid}}", "dock1"});
  REQUIRE(pid.exit_code == 0);
  INFO(docker.run({"inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}", "dock1"}).out);
  INFO(docker.run({"logs", "dock1"}).describe());
  BridgedNetwork network(world, "d" + std::to_string(::getpid() % 100000));
  network.connect("/proc/" + std::to_string(std::stoi(pid.out)) + "/ns/net");
  ProcessResult logs;
  for (int i = 0; i < 600 && logs.out.find("probed") == std::string::npos; ++i) {  // bounded
    usleep(100'000);
    logs = docker.run({"logs", "dock1"});
  }
  INFO(read_file(world.dir() / "events.jsonl"));
  check_probe_output(logs);
  auto denial = denial_to(world, agent, "198.51.100.66");
  INFO(world.agentd_log());
  REQUIRE(denial.is_object());
  CHECK(denial.value("reason", "") == "no_rule");
  CHECK(world.agentd_log().find("sandbox " + agent + ": serving its DNS in network namespace") != std::string::npos);

  // agentd restarts under the running container: refused while it is
  // away, and after it the namespace is served from the start.
  const size_t log_before = world.agentd_log().size();
  world.kill_agentd(SIGKILL);
  auto while_down = docker.run({"exec", "dock1", "sh", "-c", "echo x | nc -w 2 198.51.100.66 80 && echo open"});
  INFO(while_down.describe());
  CHECK(while_down.out.find("open") == std::string::npos);
  CHECK(while_down.err.find("Operation not permitted") != std::string::npos);  // refused by the kernel
  REQUIRE(world.start_agentd());
  CHECK(world.agentd_log().find("sandbox " + agent + ": serving its DNS in network namespace", log_before) !=
        std::string::npos);
  check_probe_output(docker.run({"exec", "dock1", "sh", "-c", kProbeScript}));

  CHECK(world.forbidden_arrivals() == 0);  // until the operator says so:
  // an approval while it runs opens the way for its next try.
  auto request = wait_for_request(world, agent, "198.51.100.66", 80);
  REQUIRE(request.is_object());
  REQUIRE(agentctl_json(world, {"approvals", "approve", std::to_string(request["id"].get<uint64_t>()), "--for", "1h"})
              .is_object());
  auto opened = docker.run({"exec", "dock1", "sh", "-c", "nc -w 2 198.51.100.66 80 </dev/null && echo open"});
  INFO(opened.describe());
  CHECK(opened.out.find("open") != std::string::npos);
  CHECK(world.stray_packets() == 0);
}

TEST_CASE("sandbox adopt --container: a running Podman or Docker container becomes a sandbox", "[kernel-neutral]") {
  require_tools({"podman", runtime_for_host(), "dockerd", "docker"});
  World world;
  world.write_policy("acme.yaml", kPolicy);
  REQUIRE(world.start_agentd());
  Podman podman(world);
  Docker docker(world);
  REQUIRE(podman.run({"run", "-d", "--name", "late-p", "--network", "none", kImage, "sleep", "600"}).exit_code == 0);
  REQUIRE(docker.run({"run", "-d", "--name", "late-d", "--network", "none", kImage, "sleep", "600"}).exit_code == 0);

  // The same name under both engines: never a guess.
  REQUIRE(docker.run({"run", "-d", "--name", "twin", "--network", "none", kImage, "sleep", "600"}).exit_code == 0);
  REQUIRE(podman.run({"run", "-d", "--name", "twin", "--network", "none", kImage, "sleep", "600"}).exit_code == 0);
  auto twin = world.agentctl({"sandbox", "adopt", "--agent", "acme/ops/twin", "--container", "twin"});
  INFO(twin.describe());
  CHECK(twin.exit_code == 1);
  CHECK(twin.err.find("--engine") != std::string::npos);

  for (const auto& [engine, name, agent] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"podman", "late-p", "acme/ops/late-p"}, {"docker", "late-d", "acme/ops/late-d"}}) {
    auto adopted = world.agentctl({"sandbox", "adopt", "--agent", agent, "--container", name});
    INFO(adopted.describe());
    REQUIRE(adopted.exit_code == 0);
    CHECK(adopted.out.find("adopted " + engine + " container") != std::string::npos);
    // What runs in it from now on (exec joins the container's cgroup) is
    // the agent's.
    auto denied = (engine == "podman" ? podman.run({"exec", name, "sh", "-c", "echo x | nc -w 2 198.51.100.66 80"})
                                      : docker.run({"exec", name, "sh", "-c", "echo x | nc -w 2 198.51.100.66 80"}));
    INFO(denied.describe());
    CHECK(denied.exit_code != 0);
    auto denial = denial_to(world, agent, "198.51.100.66");
    CHECK(denial.is_object());
  }

  // Bad references: named back, nothing adopted.
  for (const std::string bad : {"--format=x", "-x", "no-such-container", "a\x1b[2Jb"}) {
    auto refused = world.agentctl({"sandbox", "adopt", "--agent", "acme/ops/bad", "--container=" + bad});
    INFO(refused.describe());
    CHECK(refused.exit_code != 0);
    CHECK(refused.err.find('\x1b') == std::string::npos);
  }
  CHECK_FALSE(sandbox_of(world, "acme/ops/bad").is_object());
  auto both = world.agentctl({"sandbox", "adopt", "--agent", "acme/ops/x", "--container", "late-p", "--cgroup", "/x"});
  CHECK(both.exit_code == 2);
  auto neither = world.agentctl({"sandbox", "adopt", "--agent", "acme/ops/x"});
  CHECK(neither.exit_code == 2);
}
