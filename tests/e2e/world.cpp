#include "world.hpp"

#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "wait.hpp"

namespace agentd::e2e {
namespace fs = std::filesystem;

namespace {

// Whether a unix socket at `path` takes a connection (agentd listens).
bool accepts_connections(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.size() >= sizeof(address.sun_path)) return true;  // too long to try here: leave it to agentctl
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  const bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

bool on_path(const std::string& tool) { return run_process({"sh", "-c", "command -v " + tool}).exit_code == 0; }

fs::path find_cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    std::istringstream fields(line);
    std::string id, parent, devs, root, mount_point;
    fields >> id >> parent >> devs >> root >> mount_point;
    return mount_point;
  }
  return {};
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// AGENTD_E2E_BUILD: another build tree's agentd and agentctl.
std::string under_test(const char* in_build, const char* relative) {
  const char* build =
      std::getenv("AGENTD_E2E_BUILD");  // NOLINT(concurrency-mt-unsafe): the tests never set the environment
  return build && *build ? (fs::path(build) / relative).string() : in_build;
}

}  // namespace

const std::string& agentd_bin() {
  static const std::string path = under_test(AGENTD_BUILT_AGENTD, "agentd/agentd");
  return path;
}

const std::string& agentctl_bin() {
  static const std::string path = under_test(AGENTD_BUILT_AGENTCTL, "cli/agentctl");
  return path;
}

void report_missing(const std::vector<std::string>& missing);

void require_prerequisites() {
  std::vector<std::string> missing;
  if (geteuid() != 0) missing.emplace_back("root");
  if (find_cgroup2_mount().empty()) missing.emplace_back("a cgroup2 mount");
  for (const char* tool : {"ip", "nsenter", "nft", "dnsmasq", "bpftool", "dig", "tmux", "setpriv"})
    if (!on_path(tool)) missing.emplace_back(tool);
  for (const std::string& bin : {agentd_bin(), agentctl_bin(), std::string(NETPROBE_BIN)})
    if (access(bin.c_str(), X_OK) != 0) missing.emplace_back(bin);
  report_missing(missing);
}

void require_tools(const std::vector<std::string>& tools) {
  std::vector<std::string> missing;
  for (const auto& tool : tools)
    if (!on_path(tool)) missing.push_back(tool);
  report_missing(missing);
}

void report_missing(const std::vector<std::string>& missing) {
  if (missing.empty()) return;
  std::string list;
  for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
  const char* ci = std::getenv("CI");  // NOLINT(concurrency-mt-unsafe): the tests never set the environment
  if (ci && std::string(ci) == "true") throw std::runtime_error("e2e prerequisites missing in CI: " + list);
  std::cerr << "skipping: e2e prerequisites missing: " << list << "\n";
  std::exit(77);
}

World::World() {
  require_prerequisites();
  // The process's pid names the first world; later ones (several hosts in
  // one test) add a count, so that their namespaces, links and cgroups differ.
  static int worlds_made = 0;
  id_ = std::to_string(getpid()) + (worlds_made > 0 ? "w" + std::to_string(worlds_made) : "");
  ++worlds_made;
  host_ns_ = "ad" + id_ + "h";
  net_ns_ = "ad" + id_ + "n";
  try {
    build();
  } catch (...) {
    teardown();
    throw;
  }
}

World::~World() { teardown(); }

void World::sh(const std::vector<std::string>& argv) {
  auto result = run_process(argv);
  if (result.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("world setup failed: " + cmd + "\n" + result.describe());
  }
}

void World::mark(const std::string& phase) const {
  // Where a world's time goes (a VM under emulation spends most of it outside
  // the tests' own steps): phases.log, kept with the world's logs.
  if (dir_.empty()) return;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  std::ofstream(dir_ / "phases.log", std::ios::app)
      << std::chrono::duration_cast<std::chrono::milliseconds>(now).count() << " " << phase << "\n";
}

void World::ip_batch(const std::string& ns, const std::vector<std::string>& commands) {
  const fs::path file = dir_ / ("ip-" + (ns.empty() ? std::string("root") : ns) + ".batch");
  {
    std::ofstream out(file);
    for (const auto& command : commands) out << command << "\n";
  }
  std::vector<std::string> argv = {"ip"};
  if (!ns.empty()) argv.insert(argv.end(), {"-n", ns});
  argv.insert(argv.end(), {"-batch", file.string()});
  sh(argv);  // stops at the first command that fails, and says which
}

pid_t World::start_server(const std::string& ns, std::vector<std::string> args, const std::string& name) {
  std::vector<std::string> argv = {"nsenter", "--net=/run/netns/" + ns};
  argv.insert(argv.end(), args.begin(), args.end());
  const fs::path out = dir_ / (name + ".out");
  pid_t pid = spawn_process(argv, out, dir_ / (name + ".err"));
  servers_.push_back(pid);
  return pid;
}

void World::build() {
  char tmpl[] = "/tmp/agentd-e2e-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  mark("world started");
  // Sandboxes run as uids of their own: they may reach the files a test
  // hands them (binaries, inputs, stop files), never list the dir.
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::create_directories(dir_ / "policy");
  fs::create_directories(dir_ / "state");
  // A directory of its own, as /run/agentd: agentctl run hides the whole
  // socket directory from sandboxes, and the world dir holds their files.
  fs::create_directories(dir_ / "run");
  socket_ = dir_ / "run" / "agentd.sock";

  // Namespaces and the wire between them: one `ip -batch` per namespace,
  // not one process per command (in a VM under emulation each exec costs
  // a tenth of a second, and every test builds a world).
  const std::string veth_host = "ad" + id_ + "a";
  const std::string veth_net = "ad" + id_ + "b";
  host_ns_made_ = net_ns_made_ = true;  // teardown deletes what exists of them
  ip_batch("",
           {"netns add " + host_ns_, "netns add " + net_ns_,
            "link add " + veth_host + " netns " + host_ns_ + " type veth peer name " + veth_net + " netns " + net_ns_});
  for (const auto* ns : {&host_ns_, &net_ns_})
    sh({"nsenter", "--net=/run/netns/" + *ns, "sysctl", "-qw", "net.ipv4.tcp_fastopen=3",
        "net.ipv6.conf.all.accept_dad=0"});
  ip_batch(host_ns_, {"link set lo up", "addr add 198.51.100.1/24 dev " + veth_host,
                      "addr add 2001:db8:1::1/64 dev " + veth_host + " nodad", "link set " + veth_host + " up",
                      "route add 203.0.113.0/24 via 198.51.100.10", "route add 2001:db8:2::/64 via 2001:db8:1::10"});
  std::vector<std::string> net = {"link set lo up", "addr add 198.51.100.10/24 dev " + veth_net};
  for (const char* a : {"198.51.100.20/32", "198.51.100.53/32", "198.51.100.66/32"})
    net.push_back(std::string("addr add ") + a + " dev " + veth_net);
  net.push_back("addr add 2001:db8:1::10/64 dev " + veth_net + " nodad");
  for (const char* a : {"2001:db8:1::20/128", "2001:db8:1::53/128", "2001:db8:1::66/128"})
    net.push_back(std::string("addr add ") + a + " dev " + veth_net + " nodad");
  net.insert(net.end(),
             {"addr add 203.0.113.7/32 dev lo", "addr add 2001:db8:2::7/128 dev lo", "link set " + veth_net + " up"});
  ip_batch(net_ns_, net);
  mark("namespaces made");

  // The watch: count what leaves the host ns for anywhere but the test
  // ranges (link-local and multicast are the link's own chatter).
  const fs::path rules = dir_ / "watch.nft";
  std::ofstream(rules) << "table inet agentd_watch {\n"
                          "  chain out {\n"
                          "    type filter hook output priority 0; policy accept;\n"
                          "    ip daddr != { 198.51.100.0/24, 203.0.113.0/24, 127.0.0.0/8 } counter\n"
                          "    ip6 daddr != { 2001:db8::/32, ::1, fe80::/10, ff00::/8 } counter\n"
                          "  }\n"
                          "}\n";
  sh({"nsenter", "--net=" + host_ns_path(), "nft", "-f", rules.string()});

  // The sniffer on the internet's side of the wire: what arrives from the
  // host that no sandbox may send, whoever sent it: packets to the
  // forbidden hosts (.66 and ::66, denied by every test policy), packets
  // that carry a routing header or IPv4 options, and packets whose source
  // is not the host's own address (spoofed).
  const fs::path sniff = dir_ / "sniff.nft";
  std::ofstream(sniff) << "table inet agentd_sniff {\n"
                          "  chain in {\n"
                          "    type filter hook prerouting priority -300; policy accept;\n"
                          "    iifname != \""
                       << veth_net
                       << "\" accept\n"
                          "    ip daddr 198.51.100.66 counter\n"
                          "    ip6 daddr 2001:db8:1::66 counter\n"
                          "    exthdr rt exists counter\n"
                          "    ip hdrlength > 5 counter\n"
                          "    ip saddr != 198.51.100.1 counter\n"
                          "    ip6 saddr != { ::, 2001:db8:1::1, fe80::/10 } counter\n"
                          "  }\n"
                          "}\n";
  sh({"nsenter", "--net=/run/netns/" + net_ns_, "nft", "-f", sniff.string()});

  // Servers: the "internet", a loopback service on the host, a real DNS.
  start_server(net_ns_, {NETPROBE_BIN, "serve", "--tcp", "80,443,8080,9000", "--udp", "5353,9000"}, "net-server");
  // 7071: a UDP sink for the benchmarks (nothing echoed back).
  start_server(host_ns_, {NETPROBE_BIN, "serve", "--tcp", "7070", "--udp", "7070", "--sink", "7071"},
               "loopback-server");
  std::vector<std::string> dnsmasq = {
      "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--bind-interfaces", "--listen-address=198.51.100.53",
      "--listen-address=2001:db8:1::53", "--no-resolv", "--no-hosts", "--address=/allowed.example.test/198.51.100.10",
      "--address=/denied.example.test/198.51.100.66",
      // For the hostname tests: A and AAAA, wildcard depth, a CNAME chain,
      // a short TTL, answers pointing into protected ranges.
      "--host-record=api.example.test,198.51.100.10,2001:db8:1::10,300",
      "--host-record=wild.example.test,198.51.100.10,300", "--host-record=a.wild.example.test,198.51.100.20,300",
      // Two names on one address (test_names.cpp): one allowed, one denied.
      "--host-record=ok.names.example.test,198.51.100.20,2001:db8:1::20,300",
      "--host-record=evil.names.example.test,198.51.100.20,2001:db8:1::20,300",
      "--host-record=x.y.wild.example.test,198.51.100.20,300", "--host-record=target.example.test,203.0.113.7,300",
      "--cname=alias.example.test,middle.example.test,300", "--cname=middle.example.test,target.example.test,300",
      "--host-record=short.example.test,198.51.100.20,3", "--host-record=metadata.example.test,169.254.169.254,300",
      "--host-record=private.example.test,10.1.2.3,300", "--host-record=other.example.test,198.51.100.66,300",
      // Answers no name may teach (limited broadcast, multicast), alone
      // and beside an address that is learned.
      "--host-record=bcast.example.test,255.255.255.255,ff02::1,300", "--host-record=mixed.example.test,224.0.0.1,300",
      // "This network" and an IPv4-mapped AAAA of a forbidden host.
      "--host-record=special.example.test,0.0.0.7,::ffff:198.51.100.66,300",
      "--host-record=mixed.example.test,198.51.100.20,300",
      // A zone that answers any number of names, each with an address of
      // its own (203-0-113-9.many.example.test: 203.0.113.9;
      // 2001-db8-5--1f.many.example.test: 2001:db8:5::1f), TTL 0: for the
      // learned-address quota.
      "--synth-domain=many.example.test,203.0.113.0/24", "--synth-domain=many.example.test,2001:db8:5::/64",
      "--pid-file=" + (dir_ / "dnsmasq.pid").string(), "--log-facility=" + (dir_ / "dnsmasq.log").string()};
  // big.example.test: 40 A records, an answer that UDP without EDNS (512
  // bytes) truncates.
  for (int i = 0; i < kBigAnswerRecords; ++i)
    dnsmasq.push_back("--host-record=big.example.test,198.51.100." + std::to_string(100 + i) + ",300");
  pid_t dns = start_server(net_ns_, dnsmasq, "dnsmasq");
  for (const char* name : {"net-server", "loopback-server"}) {
    bool ready = false;
    for (int i = 0; i < 250 && !ready; ++i) {
      ready = read_file(dir_ / (std::string(name) + ".out")).find("\"ready\":true") != std::string::npos;
      if (!ready) sleep_ms(20);
    }
    if (!ready)
      throw std::runtime_error(std::string(name) + " did not start: " + read_file(dir_ / (std::string(name) + ".err")));
  }
  mark("servers ready");
  sleep_ms(100);
  if (poll_exit(dns) >= 0) throw std::runtime_error("dnsmasq exited: " + read_file(dir_ / "dnsmasq.err"));

  // A private bpffs and cgroup root for this world's agentd.
  bpffs_ = dir_ / "bpffs";
  fs::create_directories(bpffs_);
  if (mount("bpf", bpffs_.c_str(), "bpf", 0, nullptr) != 0) throw std::runtime_error("mounting bpffs failed");
  bpffs_mounted_ = true;
  cgroup2_mount_ = find_cgroup2_mount();
  cgroup_root_ = cgroup2_mount_ / ("agentd-e2e-" + id_);
  fs::create_directories(cgroup_root_);
  mark("world built");
}

pid_t World::serve_in_net(std::vector<std::string> argv, const std::string& name) {
  return start_server(net_ns_, std::move(argv), name);
}

void World::write_policy(const std::string& file_name, const std::string& yaml) {
  std::ofstream(dir_ / "policy" / file_name) << yaml;
}

bool World::start_agentd(const std::vector<std::string>& extra_args) {
  agentd_exit_code_ = -1;
  std::vector<std::string> argv = {"nsenter",
                                   "--net=" + host_ns_path(),
                                   agentd_bin(),
                                   "--policy-dir",
                                   (dir_ / "policy").string(),
                                   "--state-dir",
                                   (dir_ / "state").string(),
                                   "--socket",
                                   socket_.string(),
                                   "--cgroup-root",
                                   cgroup_root_.string(),
                                   "--bpffs-dir",
                                   (bpffs_ / "agentd").string()};
  // The world's resolver, unless the test names another (or a resolv.conf).
  if (std::find(extra_args.begin(), extra_args.end(), "--dns-upstream") == extra_args.end() &&
      std::find(extra_args.begin(), extra_args.end(), "--resolv-conf") == extra_args.end())
    argv.insert(argv.end(), {"--dns-upstream", "198.51.100.53"});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  mark("agentd starting");
  agentd_pid_ = spawn_process(argv, dir_ / "events.jsonl", dir_ / "agentd.log");
  // Wait for the daemon to answer (or to fail): a readiness wait, not a
  // timing. The bound is generous: a VM whose host is busy compiling
  // takes tens of seconds to load and attach the programs.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < give_up) {
    int code = poll_exit(agentd_pid_);
    if (code >= 0) {
      agentd_exit_code_ = code;
      agentd_pid_ = -1;
      std::cerr << "agentd exited with " << code << " at start; its log:\n" << agentd_log() << "\n";
      return false;
    }
    // agentctl only once the socket takes connections: under emulation an
    // agentctl every 20 ms would take the CPU that agentd starts with.
    if (accepts_connections(socket_) && agentctl({"status", "-o", "json"}).exit_code == 0) {
      mark("agentd ready");
      return true;
    }
    sleep_ms(20);
  }
  std::cerr << "agentd did not answer within 120 s; its log:\n" << agentd_log() << "\n";
  return false;
}

void World::signal_agentd(int signal) const {
  if (agentd_pid_ > 0) kill(agentd_pid_, signal);
}

pid_t World::spawn_in_sandbox(const std::string& agent, std::vector<std::string> args, const std::string& name,
                              const std::string& binary, const std::optional<std::string>& user) {
  std::vector<std::string> argv = {
      "nsenter", "--net=" + host_ns_path(), agentctl_bin(), "--socket", socket_.string(), "run", "--agent", agent};
  if (user) argv.insert(argv.end(), {"--user", *user});
  argv.insert(argv.end(), {"--", binary});
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = spawn_process(argv, dir_ / (name + ".out"), dir_ / (name + ".err"));
  spawned_.push_back(pid);
  return pid;
}

pid_t World::spawn_in_host(std::vector<std::string> argv, const std::string& name) {
  argv.insert(argv.begin(), {"nsenter", "--net=" + host_ns_path()});
  pid_t pid = spawn_process(argv, dir_ / (name + ".out"), dir_ / (name + ".err"));
  spawned_.push_back(pid);
  return pid;
}

ProcessResult World::wait_spawned(pid_t pid, const std::string& name) {
  ProcessResult result;
  result.exit_code = stop_process(pid, 0, 60000);  // signal 0: just wait
  // Reaped: never signal that pid again, it may be someone else's now.
  spawned_.erase(std::remove(spawned_.begin(), spawned_.end(), pid), spawned_.end());
  result.out = read_file(dir_ / (name + ".out"));
  result.err = read_file(dir_ / (name + ".err"));
  return result;
}

void World::kill_agentd(int signal) {
  if (agentd_pid_ > 0) agentd_exit_code_ = stop_process(agentd_pid_, signal);
  agentd_pid_ = -1;
}

std::string World::agentd_log() const { return read_file(dir_ / "agentd.log"); }

std::vector<nlohmann::json> World::denials() const {
  std::vector<nlohmann::json> records;
  std::istringstream lines(read_file(dir_ / "events.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value("type", "") == "deny") records.push_back(record);
  }
  return records;
}

nlohmann::json World::wait_for_denial(const std::function<bool(const nlohmann::json&)>& matches) const {
  nlohmann::json found;
  eventually([&] {
    for (const auto& record : denials())
      if (matches(record)) {
        found = record;
        return true;
      }
    return false;
  });
  return found;
}

ProcessResult World::in_host(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"nsenter", "--net=" + host_ns_path()});
  return run_process(argv);
}

ProcessResult World::agentctl(std::vector<std::string> args) const {
  args.insert(args.begin(), {agentctl_bin(), "--socket", socket_.string()});
  return in_host(args);
}

ProcessResult World::in_sandbox(const std::string& agent, std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"run", "--agent", agent, "--"});
  return agentctl(argv);
}

ProcessResult World::netprobe_in_sandbox(const std::string& agent, std::vector<std::string> args,
                                         const std::optional<std::string>& user) const {
  std::vector<std::string> argv = {"run", "--agent", agent};
  if (user) argv.insert(argv.end(), {"--user", *user});
  argv.emplace_back("--");
  argv.emplace_back(NETPROBE_BIN);
  argv.insert(argv.end(), args.begin(), args.end());
  return agentctl(argv);
}

ProcessResult World::netprobe_outside(std::vector<std::string> args) const {
  args.insert(args.begin(), NETPROBE_BIN);
  return in_host(args);
}

ProcessResult World::netprobe_in_internet(std::vector<std::string> args) const {
  args.insert(args.begin(), NETPROBE_BIN);
  return in_internet(std::move(args));
}

ProcessResult World::in_internet(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"nsenter", "--net=/run/netns/" + net_ns_});
  return run_process(argv);
}

ProcessResult World::netprobe_in_cgroup(const fs::path& cgroup, std::vector<std::string> args) const {
  args.insert(args.begin(), NETPROBE_BIN);
  return in_cgroup(cgroup, args);
}

ProcessResult World::in_cgroup(const fs::path& cgroup, const std::vector<std::string>& argv) const {
  std::string cmd = "echo $$ > '" + (cgroup / "cgroup.procs").string() + "' && exec";
  for (const auto& a : argv) cmd += " '" + a + "'";
  return in_host({"sh", "-c", cmd});
}

namespace {
uint64_t sum_counters(const std::string& listing) {
  uint64_t total = 0;
  std::regex counter("packets ([0-9]+)");
  for (auto it = std::sregex_iterator(listing.begin(), listing.end(), counter); it != std::sregex_iterator(); ++it)
    total += std::stoull((*it)[1]);
  return total;
}
}  // namespace

uint64_t World::forbidden_arrivals() const {
  return sum_counters(
      run_process({"nsenter", "--net=/run/netns/" + net_ns_, "nft", "list", "table", "inet", "agentd_sniff"}).out);
}

uint64_t World::stray_packets() const {
  return sum_counters(
      run_process({"nsenter", "--net=" + host_ns_path(), "nft", "list", "table", "inet", "agentd_watch"}).out);
}

std::vector<std::pair<std::string, int>> World::attachments(const fs::path& cgroup) const {
  auto result = run_process({"bpftool", "-j", "cgroup", "show", cgroup.string()});
  std::map<std::string, int> counts;
  auto list = nlohmann::json::parse(result.out, nullptr, false);
  if (list.is_array())
    for (const auto& item : list) counts[item.value("attach_type", "?")]++;
  return {counts.begin(), counts.end()};
}

fs::path World::make_foreign_cgroup(const std::string& name) {
  fs::path cgroup = cgroup2_mount_ / ("agentd-e2e-" + id_ + "-" + name);
  fs::create_directories(cgroup);
  foreign_cgroups_.push_back(cgroup);
  return cgroup;
}

namespace {

// Kills what runs in a cgroup tree we made (cgroup.kill: only our own
// processes) and removes it, deepest first.
void remove_cgroup_tree(const fs::path& root) {
  std::error_code ec;
  if (root.empty() || !fs::exists(root, ec)) return;
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_directory(ec)) dirs.push_back(it->path());
    dirs.push_back(root);
    std::ofstream(root / "cgroup.kill") << "1";
    bool all_removed = true;
    // NOLINTNEXTLINE(modernize-loop-convert): clang 14 cannot compile libstdc++ 12's views::reverse
    for (auto d = dirs.rbegin(); d != dirs.rend(); ++d)
      if (rmdir(d->c_str()) != 0 && errno != ENOENT) all_removed = false;
    if (all_removed) return;
    sleep_ms(20);
  }
}

}  // namespace

void World::teardown() {
  for (pid_t pid : spawned_) stop_process(pid, SIGTERM, 2000);
  spawned_.clear();
  mark("teardown");
  kill_agentd(SIGTERM);
  mark("agentd stopped");
  for (pid_t pid : servers_) stop_process(pid, SIGTERM, 2000);
  servers_.clear();
  mark("servers stopped");
  std::error_code ec;
  remove_cgroup_tree(cgroup_root_);
  for (const auto& cgroup : foreign_cgroups_) remove_cgroup_tree(cgroup);
  foreign_cgroups_.clear();
  if (bpffs_mounted_) umount2(bpffs_.c_str(), MNT_DETACH);
  bpffs_mounted_ = false;
  if ((host_ns_made_ || net_ns_made_) && !dir_.empty()) {
    // One process for both (-force: past one that never came to be).
    const fs::path file = dir_ / "ip-teardown.batch";
    std::ofstream(file) << "netns del " << host_ns_ << "\nnetns del " << net_ns_ << "\n";
    run_process({"ip", "-force", "-batch", file.string()});
    mark("namespaces deleted");
  }
  host_ns_made_ = net_ns_made_ = false;
  if (!dir_.empty()) {
    // Kept when a test asks (AGENTD_E2E_KEEP=1) so its logs can be read.
    if (!std::getenv("AGENTD_E2E_KEEP")) fs::remove_all(dir_, ec);  // NOLINT(concurrency-mt-unsafe): as above
  }
}

}  // namespace agentd::e2e
