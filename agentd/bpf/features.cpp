#include "agentd/bpf/features.hpp"

#include <bpf/libbpf.h>
#include <linux/landlock.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace agentd::bpf {
namespace {

bool map_type_supported(bpf_map_type type) { return libbpf_probe_bpf_map_type(type, nullptr) > 0; }
bool prog_type_supported(bpf_prog_type type) { return libbpf_probe_bpf_prog_type(type, nullptr) > 0; }

std::string read_active_lsms() {
  const char* path = "/sys/kernel/security/lsm";
  if (!std::filesystem::exists(path)) {
    // securityfs is not mounted on every host (systemd mounts it); mounting
    // it is harmless and the only way to read the active LSM list.
    ::mount("securityfs", "/sys/kernel/security", "securityfs", 0, nullptr);
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool lsm_list_has_bpf(const std::string& list) {
  std::stringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item == "bpf" || item == "bpf\n") return true;
  }
  return false;
}

int probe_landlock_abi() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

}  // namespace

KernelFeatures probe_kernel_features() {
  KernelFeatures f;
  utsname uts{};
  if (::uname(&uts) == 0) f.kernel_release = uts.release;
  f.btf = std::filesystem::exists("/sys/kernel/btf/vmlinux");
  f.cgroup_sock_addr = prog_type_supported(BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
  f.cgroup_sock = prog_type_supported(BPF_PROG_TYPE_CGROUP_SOCK);
  f.cgroup_sockopt = prog_type_supported(BPF_PROG_TYPE_CGROUP_SOCKOPT);
  f.cgroup_skb = prog_type_supported(BPF_PROG_TYPE_CGROUP_SKB);
  f.lpm_trie = map_type_supported(BPF_MAP_TYPE_LPM_TRIE);
  f.sk_storage = map_type_supported(BPF_MAP_TYPE_SK_STORAGE);
  f.ringbuf = map_type_supported(BPF_MAP_TYPE_RINGBUF);
  f.set_retval = libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_set_retval, nullptr) > 0;
  f.bpf_lsm_active = f.btf && lsm_list_has_bpf(read_active_lsms());
  f.landlock_abi = probe_landlock_abi();
  f.seccomp_filter = ::prctl(PR_GET_SECCOMP) >= 0;
  return f;
}

std::vector<std::string> KernelFeatures::missing_required() const {
  std::vector<std::string> missing;
  if (!cgroup_sock_addr) missing.emplace_back("BPF_PROG_TYPE_CGROUP_SOCK_ADDR (connect/sendmsg hooks)");
  if (!cgroup_sock) missing.emplace_back("BPF_PROG_TYPE_CGROUP_SOCK (sock_create hook)");
  if (!cgroup_sockopt) missing.emplace_back("BPF_PROG_TYPE_CGROUP_SOCKOPT (setsockopt hook)");
  if (!cgroup_skb) missing.emplace_back("BPF_PROG_TYPE_CGROUP_SKB (packet walls)");
  if (!lpm_trie) missing.emplace_back("BPF_MAP_TYPE_LPM_TRIE (CIDR rules)");
  if (!sk_storage) missing.emplace_back("BPF_MAP_TYPE_SK_STORAGE (per-socket sandbox)");
  if (!ringbuf) missing.emplace_back("BPF_MAP_TYPE_RINGBUF (denial records)");
  return missing;
}

nlohmann::json KernelFeatures::to_json() const {
  return {
      {"kernel_release", kernel_release},
      {"btf", btf},
      {"cgroup_sock_addr", cgroup_sock_addr},
      {"cgroup_sock", cgroup_sock},
      {"cgroup_sockopt", cgroup_sockopt},
      {"cgroup_skb", cgroup_skb},
      {"lpm_trie", lpm_trie},
      {"sk_storage", sk_storage},
      {"ringbuf", ringbuf},
      {"set_retval", set_retval},
      {"bpf_lsm", bpf_lsm_active},
      {"landlock_abi", landlock_abi},
      {"seccomp_filter", seccomp_filter},
  };
}

}  // namespace agentd::bpf
