// The BPF programs alone, in the kernel selftests' style: the skeleton
// loaded with its maps pinned under a bpffs directory of the test's own,
// attached to a cgroup of the test's own, maps filled by hand with the ABI's
// structs (no agentd, no policy compiler), and probes run by a child
// process that joins a cgroup inside a network namespace of its own, where
// documentation addresses route over lo and nothing leaves.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "agentd/bpf/libbpf_ptr.hpp"
#include "agentd/common/unique_fd.hpp"
#include "agentd_abi.h"

namespace agentd::bpf_test {

inline constexpr uint32_t kSlot = 1;
inline constexpr uint32_t kClass = 7;
inline constexpr uint16_t kGeneration = 1;

// One port range of a rule value (verify off: by address).
agentd_port_range range(uint16_t lo, uint16_t hi, uint8_t proto_mask, uint8_t action);

// What a probe child hands back: one int per probe, in order.
using Results = std::vector<int>;

class BpfFixture {
 public:
  BpfFixture();
  ~BpfFixture();
  BpfFixture(const BpfFixture&) = delete;
  BpfFixture& operator=(const BpfFixture&) = delete;

  // Maps, by hand. Addresses are text ("198.51.100.10", "2001:db8::1").
  void add_rule(uint32_t class_id, const std::string& cidr, const std::vector<agentd_port_range>& ranges);
  void set_sandbox(uint32_t slot, uint32_t class_id, bool active);
  void learn(uint32_t slot, const std::string& address, const std::vector<agentd_port_range>& ranges,
             uint64_t expires_ns);
  void grant(uint32_t slot, const std::string& address, const std::vector<agentd_port_range>& ranges,
             uint64_t expires_ns);
  void set_dns(uint32_t proxy_port);

  // Summed over CPUs for one slot.
  agentd_counters counters(uint32_t slot) const;
  agentd_record_counts record_counts(uint32_t slot) const;
  // The denial records in the ring so far, taken out of it.
  std::vector<agentd_deny_event> take_records();

  // Runs `body` in a child: a network namespace of its own, then
  // `before_join` (outside any hooked cgroup), then the child joins
  // `cgroup` (sandbox() or outside()) and runs `body`. Fails the test if
  // the child does not end cleanly.
  Results run_in(const std::filesystem::path& cgroup, const std::function<void(Results&)>& body,
                 const std::function<void(Results&)>& before_join = {});

  // The sandbox's cgroup (slot kSlot), and a cgroup beside it under the
  // same hooks that is no sandbox.
  const std::filesystem::path& sandbox() const { return cgroups_.sandbox; }
  const std::filesystem::path& outside() const { return cgroups_.outside; }
  int map_fd(bpf_map* map) const { return bpf_map__fd(map); }
  egress_bpf* skeleton() const { return skeleton_.get(); }

 private:
  // Owners of what the test made, declared before the skeleton: undone on
  // every path, a constructor that throws halfway included.
  struct MountedBpffs {
    MountedBpffs();
    ~MountedBpffs();
    std::filesystem::path dir;
  };
  struct CgroupTree {
    explicit CgroupTree(const std::string& name);
    ~CgroupTree();
    std::filesystem::path root, sandbox, outside;
  };
  MountedBpffs pins_;
  CgroupTree cgroups_;
  bpf::EgressSkeleton skeleton_;
  std::vector<bpf::LinkPtr> links_;
  bpf::RingBufferPtr ring_;
  std::vector<agentd_deny_event> drained_;
};

// Probes a child runs: 0 when the kernel let the operation start, else the
// errno it failed with.
int tcp_connect(const std::string& address, uint16_t port);
int udp_send(const std::string& address, uint16_t port);

// A socket made now (in the cgroup the child is in) and used later, maybe
// from another: use() connects (stream) or sends one byte (datagram) to
// the address it was made for.
struct ProbeSocket {
  ProbeSocket(const std::string& address, uint16_t port, int type);
  int use() const;
  // The address first: the constructor fills it while opening fd.
  sockaddr_storage to{};
  socklen_t length = 0;
  int type;
  UniqueFd fd;
};

// The calling process into `cgroup` (a child's body moving on).
void move_to(const std::filesystem::path& cgroup);

}  // namespace agentd::bpf_test
