#include "agentd/bpf/lsm_probe.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "agentd/common/result.hpp"

namespace agentd::bpf {
namespace {

// errno of loading `return 0` as a program of this type and attach type,
// 0 when it loads.
int load_minimal(bpf_prog_type type, bpf_attach_type attach, const char* target) {
  const int btf_id = libbpf_find_vmlinux_btf_id(target, attach);
  if (btf_id < 0) return -btf_id;
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                   // exit
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach, .attach_btf_id = static_cast<__u32>(btf_id));
  const int fd = bpf_prog_load(type, "agentd_probe", "GPL", insns, 2, &opts);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

bool init_private_engaged() {
  std::ifstream sysctl("/proc/sys/kernel/init_private");
  int value = 0;
  return sysctl >> value && value == 1;
}

}  // namespace

int minimal_lsm_refusal() { return load_minimal(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "socket_create"); }

std::string lsm_refusal_cause() {
  const int lsm = load_minimal(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "socket_create");
  if (lsm == 0) return "; a minimal LSM program loads, so agentd's own program was refused (a bug: report it)";
  const int fentry = load_minimal(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "do_nanosleep");
  const int raw_tp = load_minimal(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, "sched_switch");
  std::string cause = std::string("; this kernel refuses even a two-instruction LSM program (") + errno_text(lsm) + ")";
  if (lsm == EPERM && fentry == EPERM && raw_tp == 0) {
    cause +=
        " and every program attached through a BPF trampoline (fentry too), before the verifier runs, while "
        "tp_btf programs load: a restriction of this kernel build, not of agentd's program";
    // A vendor patch seen on Firecracker guests: once its init sets
    // kernel.init_private=1 (one way, never back), bpf_prog_load refuses
    // LSM, EXT and fentry/fexit/fmod_ret programs from every process but
    // PID 1, before any capability check, and ftrace function tracing too.
    if (init_private_engaged())
      cause += "; here kernel.init_private=1 (a vendor patch) reserves trampoline programs to PID 1";
  }
  return cause;
}

}  // namespace agentd::bpf
