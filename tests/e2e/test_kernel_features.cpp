// What the kernel offers, as `agentctl status` reports it, checked against
// the test's own probes; runs on every kernel of the matrix (scripts/vm-test)
// and states what it found, so a run's output says what each kernel lacked.
#include <linux/landlock.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "policies.hpp"
#include "world.hpp"

using namespace agentd::e2e;
using nlohmann::json;

namespace {

bool lsm_list_has_bpf() {
  const std::string list = read_file("/sys/kernel/security/lsm");
  return ("," + list + ",").find(",bpf,") != std::string::npos || ("," + list).find(",bpf\n") != std::string::npos;
}

}  // namespace

TEST_CASE("status reports the kernel's features, and the socket family hook follows the BPF LSM", "[each-kernel]") {
  World world;
  world.write_policy("acme.yaml", kAcmePolicy);
  REQUIRE(world.start_agentd());
  auto result = world.agentctl({"status", "-o", "json"});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  const json status = json::parse(result.out);
  const json& features = status["kernel"]["features"];
  const json& enforcement = status["kernel"]["enforcement"];
  INFO(status["kernel"].dump(2));

  utsname uts{};
  REQUIRE(uname(&uts) == 0);
  CHECK(features["kernel_release"] == uts.release);
  const long landlock = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  CHECK(features["landlock_abi"] == (landlock < 0 ? 0 : landlock));
  // agentd mounts securityfs when it is missing, so the list is there now.
  const bool lsm = lsm_list_has_bpf();
  CHECK(features["bpf_lsm"] == lsm);
  for (const char* required :
       {"cgroup_sock_addr", "cgroup_sock", "cgroup_sockopt", "cgroup_skb", "lpm_trie", "sk_storage", "ringbuf"})
    CHECK(features[required] == true);

  // Degrading as documented: the socket family hook is on exactly when its
  // program is attached, and when it is off, status says why.
  const std::string hook = enforcement["socket_family_hook"];
  bool lsm_attached = false;
  for (const auto& a : enforcement["attachments"])
    lsm_attached |= a["hook"] == "agentd_socket_family";  // the lsm_cgroup/socket_create program
  CHECK(lsm_attached == (hook == "active"));
  if (!lsm) CHECK(hook.rfind("unavailable: the bpf LSM is not active", 0) == 0);
  if (hook != "active") CHECK(hook.rfind("unavailable: ", 0) == 0);
  // The vendor patch that reserves trampoline programs to PID 1 is named
  // as the cause where it is engaged (this machine; not Debian's kernel).
  if (lsm && read_file("/proc/sys/kernel/init_private").rfind('1', 0) == 0)
    CHECK(hook.find("kernel.init_private=1") != std::string::npos);
  auto text = world.agentctl({"status"});
  CHECK(text.out.find("socket family hook: " + hook) != std::string::npos);

  WARN("kernel " << uts.release << ": Landlock ABI " << features["landlock_abi"] << ", BPF LSM "
                 << (lsm ? "in the LSM list" : "not active") << ", socket family hook " << hook);
}
