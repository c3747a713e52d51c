// The seccomp filter of a sandbox: its syscall profile (none, default,
// strict, with the policy's deny and allow lists and action) merged with
// the socket family rules, for x86-64 and its x32 and i386 ABIs. Built and
// compiled to BPF in agentctl before the command starts, so that every
// problem is reported while nothing runs yet; loaded in the child with one
// syscall.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "agentd/common/result.hpp"
#include "agentd/policy/sandbox_section.hpp"

namespace agentd::confine {

class SeccompProgram {
 public:
  explicit SeccompProgram(std::vector<sock_filter> code) : code_(std::move(code)) {}
  // Installs the filter on the calling thread (inherited by everything it
  // starts; never removable). Needs no_new_privs. Returns 0 or an errno
  // value: safe between clone and exec.
  int install() const;
  size_t instructions() const { return code_.size(); }

 private:
  std::vector<sock_filter> code_;
};

Result<SeccompProgram> build_seccomp_program(const policy::SandboxProfile& profile);

// The architectures every filter covers, for `agentctl sandbox profile`.
std::vector<std::string> seccomp_architectures();

}  // namespace agentd::confine
