#include "bpf_fixture.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "agentd/common/unique_fd.hpp"
#include "agentd/sandbox/cgroup.hpp"
#include "agentd/sandbox/cgroup_mount.hpp"

namespace fs = std::filesystem;

namespace agentd::bpf_test {
namespace {

[[noreturn]] void fail(const std::string& what) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the BPF tests run on one thread
  throw std::runtime_error(what + (errno ? std::string(": ") + std::strerror(errno) : std::string()));
}

// "198.51.100.10" or "2001:db8::1" into the ABI's family and 16 bytes.
uint32_t parse_address(const std::string& text, uint8_t (&addr)[16]) {
  std::memset(addr, 0, sizeof(addr));
  if (inet_pton(AF_INET, text.c_str(), addr) == 1) return AGENTD_FAMILY_IPV4;
  if (inet_pton(AF_INET6, text.c_str(), addr) == 1) return AGENTD_FAMILY_IPV6;
  throw std::invalid_argument("not an address: " + text);
}

agentd_rule_value rule_value(const std::vector<agentd_port_range>& ranges) {
  if (ranges.size() > AGENTD_MAX_PORT_RANGES) throw std::invalid_argument("too many port ranges");
  agentd_rule_value value{};
  value.count = static_cast<uint32_t>(ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i) value.ranges[i] = ranges[i];
  return value;
}

void update(int fd, const void* key, const void* value, const char* what) {
  errno = 0;
  if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0) fail(std::string("writing ") + what);
}

// Exact-address entries (learned, granted) share one key and value.
void write_address_entry(int fd, uint32_t slot, const std::string& address,
                         const std::vector<agentd_port_range>& ranges, uint64_t expires_ns, const char* what) {
  agentd_learned_key key{};
  key.slot = slot;
  key.family = parse_address(address, key.addr);
  agentd_learned_value value{};
  value.expires_ns = expires_ns;
  value.rules = rule_value(ranges);
  update(fd, &key, &value, what);
}

int copy_record(void* context, void* data, size_t size) {
  if (size < sizeof(agentd_deny_event)) return 0;
  agentd_deny_event event{};
  std::memcpy(&event, data, sizeof(event));
  static_cast<std::vector<agentd_deny_event>*>(context)->push_back(event);
  return 0;
}

template <typename Value>
std::vector<Value> per_cpu(int fd, uint32_t slot) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) fail("counting CPUs");
  std::vector<Value> values(static_cast<size_t>(cpus));
  errno = 0;
  if (bpf_map_lookup_elem(fd, &slot, values.data()) != 0) fail("reading a per-CPU slot");
  return values;
}

int probe_errno(int rc) { return rc == 0 || errno == EINPROGRESS ? 0 : errno; }

int open_probe_socket(const std::string& address, uint16_t port, int type, sockaddr_storage& to, socklen_t& length) {
  std::memset(&to, 0, sizeof(to));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&to);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&to);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof(*v6);
  } else {
    throw std::invalid_argument("not an address: " + address);
  }
  return ::socket(to.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

}  // namespace

agentd_port_range range(uint16_t lo, uint16_t hi, uint8_t proto_mask, uint8_t action) {
  agentd_port_range r{};
  r.lo = lo;
  r.hi = hi;
  r.proto_mask = proto_mask;
  r.action = action;
  return r;
}

BpfFixture::MountedBpffs::MountedBpffs() {
  if (geteuid() != 0) {
    // As the e2e worlds: in CI a failure, elsewhere a skip (ctest's 77).
    // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing sets it
    if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
      throw std::runtime_error("the BPF tests need root (CI=true: a failure, not a skip)");
    std::_Exit(77);
  }
  // A bpffs of the test's own for the pins, as each e2e world has.
  char pins[] = "/tmp/agentd-bpftest-XXXXXX";
  errno = 0;
  if (!mkdtemp(pins)) fail("mkdtemp");
  dir = pins;
  if (::mount("bpf", pins, "bpf", 0, "mode=0700") != 0) {
    const int error = errno;
    ::rmdir(pins);
    errno = error;
    fail("mounting bpffs on " + dir.string());
  }
}

BpfFixture::MountedBpffs::~MountedBpffs() {
  ::umount2(dir.c_str(), MNT_DETACH);
  ::rmdir(dir.c_str());
}

BpfFixture::CgroupTree::CgroupTree(const std::string& name) {
  auto mount = sandbox::find_cgroup2_mount();
  if (!mount) throw std::runtime_error("no cgroup2 mount: " + mount.error().describe());
  root = *mount / name;
  sandbox = root / "sandbox";
  outside = root / "outside";
  fs::create_directories(sandbox);
  fs::create_directories(outside);
}

// The probes are reaped before this runs; a child that was not (a test
// killed halfway) is killed with its cgroup, so the tree can go.
BpfFixture::CgroupTree::~CgroupTree() {
  for (const auto& leaf : {sandbox, outside}) {
    std::ofstream(leaf / "cgroup.kill") << "1" << std::flush;
    for (int i = 0; i < 100 && ::rmdir(leaf.c_str()) != 0 && errno == EBUSY; ++i) usleep(10'000);
  }
  ::rmdir(root.c_str());
}

BpfFixture::BpfFixture() : cgroups_(pins_.dir.filename().string()) {
  const std::string pin_root = pins_.dir.string();
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = pin_root.c_str());
  skeleton_.reset(egress_bpf::open(&open_opts));
  if (!skeleton_) fail("opening the skeleton");
  // The LSM hook needs a kernel that lets us load it (not this one's
  // lockdown); the cgroup hooks are what these tests judge.
  bpf_program__set_autoload(skeleton_->progs.agentd_socket_family, false);
  if (int err = egress_bpf::load(skeleton_.get()); err != 0) {
    errno = -err;
    fail("loading the skeleton");
  }
  UniqueFd root_fd(::open(cgroups_.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) fail("opening " + cgroups_.root.string());
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skeleton_->obj) {
    if (!bpf_program__autoload(prog) || bpf_program__type(prog) == BPF_PROG_TYPE_SK_MSG) continue;
    bpf::LinkPtr link(bpf_program__attach_cgroup(prog, root_fd.get()));
    if (!link) fail(std::string("attaching ") + bpf_program__name(prog));
    links_.push_back(std::move(link));
  }
  ring_.reset(ring_buffer__new(map_fd(skeleton_->maps.agentd_events), copy_record, &drained_, nullptr));
  if (!ring_) fail("opening the record ring");

  auto id = sandbox::cgroup_id_of(cgroups_.sandbox);
  if (!id) throw std::runtime_error(id.error().describe());
  const uint64_t cgroup_id = *id;
  update(map_fd(skeleton_->maps.agentd_cgroups), &cgroup_id, &kSlot, "the sandbox's cgroup");
  set_sandbox(kSlot, kClass, true);
}

BpfFixture::~BpfFixture() {
  // Links that were never pinned detach as they go; the pins' bpffs and
  // the cgroups go with their owners.
  links_.clear();
  ring_.reset();
  skeleton_.reset();
}

void BpfFixture::add_rule(uint32_t class_id, const std::string& cidr, const std::vector<agentd_port_range>& ranges) {
  const auto slash = cidr.find('/');
  if (slash == std::string::npos) throw std::invalid_argument("not a CIDR: " + cidr);
  agentd_rule_key key{};
  key.class_id = class_id;
  key.family = parse_address(cidr.substr(0, slash), key.addr);
  key.prefixlen = AGENTD_KEY_FIXED_BITS + static_cast<uint32_t>(std::stoul(cidr.substr(slash + 1)));
  const agentd_rule_value value = rule_value(ranges);
  update(map_fd(skeleton_->maps.agentd_rules), &key, &value, "a rule");
}

void BpfFixture::set_sandbox(uint32_t slot, uint32_t class_id, bool active) {
  const agentd_sandbox_state state{
      class_id, (active ? AGENTD_SANDBOX_ACTIVE : 0u) | (uint32_t{kGeneration} << AGENTD_SANDBOX_GEN_SHIFT)};
  update(map_fd(skeleton_->maps.agentd_state), &slot, &state, "a sandbox's state");
}

void BpfFixture::learn(uint32_t slot, const std::string& address, const std::vector<agentd_port_range>& ranges,
                       uint64_t expires_ns) {
  write_address_entry(map_fd(skeleton_->maps.agentd_learned), slot, address, ranges, expires_ns, "a learned address");
}

void BpfFixture::grant(uint32_t slot, const std::string& address, const std::vector<agentd_port_range>& ranges,
                       uint64_t expires_ns) {
  write_address_entry(map_fd(skeleton_->maps.agentd_grants), slot, address, ranges, expires_ns, "a grant");
}

void BpfFixture::set_dns(uint32_t proxy_port) {
  const uint32_t zero = 0;
  const agentd_dns_config config{1, proxy_port};
  update(map_fd(skeleton_->maps.agentd_dnscfg), &zero, &config, "the DNS settings");
}

agentd_counters BpfFixture::counters(uint32_t slot) const {
  agentd_counters sum{};
  for (const auto& c : per_cpu<agentd_counters>(map_fd(skeleton_->maps.agentd_counts), slot)) {
    sum.allowed += c.allowed;
    sum.denied += c.denied;
    sum.suppressed += c.suppressed;
  }
  return sum;
}

agentd_record_counts BpfFixture::record_counts(uint32_t slot) const {
  agentd_record_counts sum{};
  for (const auto& c : per_cpu<agentd_record_counts>(map_fd(skeleton_->maps.agentd_records), slot)) {
    sum.recorded += c.recorded;
    sum.held += c.held;
    sum.dropped += c.dropped;
  }
  return sum;
}

std::vector<agentd_deny_event> BpfFixture::take_records() {
  ring_buffer__consume(ring_.get());
  return std::exchange(drained_, {});
}

Results BpfFixture::run_in(const fs::path& cgroup, const std::function<void(Results&)>& body,
                           const std::function<void(Results&)>& before_join) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) fail("pipe");
  UniqueFd read_end(ends[0]), write_end(ends[1]);
  const pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    // The child never returns into the test framework.
    int code = 0;
    try {
      read_end.reset();
      if (unshare(CLONE_NEWNET) != 0) _exit(101);
      // Routes over lo, which needs no module: an allowed connect starts
      // (its SYN loops back to a host that is not there), a send goes.
      // A fixed command, in the forked child (one thread).
      // NOLINTNEXTLINE(cert-env33-c,concurrency-mt-unsafe)
      if (std::system("ip link set lo up && ip route add 198.51.100.0/24 dev lo && "
                      "ip -6 route add 2001:db8:1::/64 dev lo") != 0)
        _exit(102);
      Results results;
      if (before_join) before_join(results);
      std::ofstream join(cgroup / "cgroup.procs");
      join << getpid() << std::flush;
      if (!join) _exit(105);  // a child outside the hooks would probe nothing
      body(results);
      const auto bytes = static_cast<ssize_t>(results.size() * sizeof(int));
      if (!results.empty() && ::write(write_end.get(), results.data(), static_cast<size_t>(bytes)) != bytes) code = 104;
    } catch (...) {
      code = 103;
    }
    _exit(code);
  }
  write_end.reset();
  Results results;
  int value = 0;
  while (::read(read_end.get(), &value, sizeof(value)) == static_cast<ssize_t>(sizeof(value))) results.push_back(value);
  int status = 0;
  if (waitpid(child, &status, 0) != child) fail("waiting for the probe");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the probe child failed: " + (WIFEXITED(status)
                                                               ? "exit " + std::to_string(WEXITSTATUS(status))
                                                               : "signal " + std::to_string(WTERMSIG(status))));
  return results;
}

namespace {

// A stream socket's connect, or one byte sent on a datagram socket.
int probe(const std::string& address, uint16_t port, int type) {
  ProbeSocket socket(address, port, type);
  return socket.fd ? socket.use() : errno;
}

}  // namespace

ProbeSocket::ProbeSocket(const std::string& address, uint16_t port, int socket_type)
    : type(socket_type), fd(open_probe_socket(address, port, socket_type, to, length)) {}

int ProbeSocket::use() const {
  const auto* peer = reinterpret_cast<const sockaddr*>(&to);
  if (type == SOCK_STREAM) return probe_errno(::connect(fd.get(), peer, length));
  const char byte = 'x';
  return probe_errno(::sendto(fd.get(), &byte, 1, 0, peer, length) == 1 ? 0 : -1);
}

int tcp_connect(const std::string& address, uint16_t port) { return probe(address, port, SOCK_STREAM); }
int udp_send(const std::string& address, uint16_t port) { return probe(address, port, SOCK_DGRAM); }

void move_to(const std::filesystem::path& cgroup) {
  std::ofstream join(cgroup / "cgroup.procs");
  join << getpid() << std::flush;
  if (!join) throw std::runtime_error("moving into " + cgroup.string());
}

}  // namespace agentd::bpf_test
