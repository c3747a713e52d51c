// What this kernel offers, probed once at start: the required features
// fail the start with a message naming them; the optional ones are shown
// by `agentctl status` and degrade as documented.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace agentd::bpf {

struct KernelFeatures {
  std::string kernel_release;
  bool btf = false;               // /sys/kernel/btf/vmlinux (LSM programs need it)
  bool cgroup_sock_addr = false;  // connect/sendmsg hooks
  bool cgroup_sock = false;       // sock_create hook
  bool cgroup_sockopt = false;    // setsockopt hook (route options)
  bool cgroup_skb = false;        // packet walls: routing headers out, inbound in
  bool lpm_trie = false;
  bool sk_storage = false;
  bool ringbuf = false;
  bool set_retval = false;      // bpf_set_retval in connect/sendmsg hooks (refuse_with)
  bool bpf_lsm_active = false;  // "bpf" in /sys/kernel/security/lsm
  int landlock_abi = 0;         // 0: Landlock unavailable
  bool seccomp_filter = false;

  // Names of the required features this kernel lacks; empty when usable.
  std::vector<std::string> missing_required() const;
  nlohmann::json to_json() const;
};

KernelFeatures probe_kernel_features();

}  // namespace agentd::bpf
