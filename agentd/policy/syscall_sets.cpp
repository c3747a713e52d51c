#include "agentd/policy/syscall_sets.hpp"

#include <sched.h>
#include <seccomp.h>

namespace agentd::policy {

const std::vector<std::string>& default_denied_syscalls() {
  static const std::vector<std::string> names = {
      // mounts and the root: an agent never rearranges the file tree
      "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
      "fsmount", "fspick", "mount_setattr",
      // other processes' memory and descriptors
      "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
      // programming the kernel, and observing it
      "bpf", "perf_event_open",
      // replacing or extending the kernel
      "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
      // kernel keyrings
      "keyctl", "add_key", "request_key",
      // namespaces: a new user or network namespace walks around the hooks
      "unshare", "setns",
      // file handles bypass path checks (the shocker escape)
      "open_by_handle_at", "name_to_handle_at",
      // stalls the kernel at will: a classic exploit helper
      "userfaultfd",
      // raw I/O ports
      "iopl", "ioperm",
      // the machine itself
      "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
      // obsolete interfaces, kept by the kernel for old binaries only
      "uselib", "ustat", "sysfs", "_sysctl", "vm86", "vm86old", "modify_ldt", "lookup_dcookie", "nfsservctl",
  };
  return names;
}

const std::vector<std::string>& strict_allowed_syscalls() {
  static const std::vector<std::string> names = {
      // files and descriptors
      "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
      "open", "openat", "openat2", "creat", "close", "close_range", "lseek", "_llseek", "dup", "dup2", "dup3",
      "fcntl", "fcntl64", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "truncate",
      "truncate64", "ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "readahead",
      "sendfile", "sendfile64", "copy_file_range", "splice", "tee", "ioctl", "pipe", "pipe2", "memfd_create",
      "stat", "stat64", "fstat", "fstat64", "lstat", "lstat64", "newfstatat", "fstatat64", "statx", "statfs",
      "statfs64", "fstatfs", "fstatfs64", "access", "faccessat", "faccessat2", "getdents", "getdents64",
      "getcwd", "chdir", "fchdir", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link",
      "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat", "chmod", "fchmod",
      "fchmodat", "chown", "fchown", "lchown", "fchownat", "chown32", "fchown32", "lchown32", "umask", "utime",
      "utimes", "utimensat", "futimesat", "mknod", "mknodat", "getxattr", "lgetxattr", "fgetxattr", "listxattr",
      "llistxattr", "flistxattr", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
      "fremovexattr", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
      // waiting and events
      "poll", "ppoll", "select", "_newselect", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
      "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "timerfd_create", "timerfd_settime",
      "timerfd_gettime", "signalfd", "signalfd4", "futex", "futex_waitv", "nanosleep", "clock_nanosleep",
      "pause", "alarm", "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
      "timer_getoverrun", "timer_delete", "sched_yield",
      // memory
      "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "msync", "mincore", "madvise", "mlock", "munlock",
      "membarrier",
      // processes, threads and signals
      "clone", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
      "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigreturn", "rt_sigpending",
      "rt_sigtimedwait", "rt_sigqueueinfo", "rt_sigsuspend", "sigaltstack", "set_tid_address",
      "set_robust_list", "get_robust_list", "rseq", "arch_prctl", "set_thread_area", "get_thread_area",
      "prctl", "pidfd_open", "pidfd_send_signal",
      // identity and limits (reading; changing needs capabilities that are gone)
      "getpid", "getppid", "gettid", "getuid", "getgid", "geteuid", "getegid", "getuid32", "getgid32",
      "geteuid32", "getegid32", "getresuid", "getresgid", "getresuid32", "getresgid32", "getgroups",
      "getgroups32", "getpgid", "getpgrp", "setpgid", "getsid", "setsid", "capget", "getrlimit", "ugetrlimit",
      "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority", "sched_getaffinity",
      "sched_setaffinity", "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
      "sched_get_priority_min", "getcpu",
      // time and the system
      "clock_gettime", "clock_gettime64", "clock_getres", "gettimeofday", "time", "times", "uname", "sysinfo",
      "getrandom",
      // sockets (their families and destinations are judged by the socket rules and the BPF hooks)
      "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "getsockname", "getpeername",
      "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
  };
  return names;
}

uint64_t namespace_clone_flags() {
  return CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
         CLONE_NEWNET | 0x00000080ULL /* CLONE_NEWTIME */;
}

bool is_known_syscall(std::string_view name) {
  // Names of other ABIs resolve to negative pseudo numbers; only unknown
  // names give __NR_SCMP_ERROR.
  return !name.empty() && seccomp_syscall_resolve_name(std::string(name).c_str()) != __NR_SCMP_ERROR;
}

}  // namespace agentd::policy
