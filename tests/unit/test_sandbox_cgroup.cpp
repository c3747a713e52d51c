// Pure parts of the sandbox plumbing: where cgroup2 is, which cgroup a
// process is in, whether one path is inside another.
#include <catch2/catch.hpp>

#include "agentd/sandbox/cgroup.hpp"
#include "agentd/sandbox/cgroup_mount.hpp"

using namespace agentd::sandbox;

TEST_CASE("cgroup2 is found in mountinfo on hybrid and unified hosts") {
  const char* hybrid =
      "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
      "31 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
      "32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
      "33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
      "35 31 0:30 / /sys/fs/cgroup/memory rw,nosuid shared:13 - cgroup cgroup rw,memory\n";
  CHECK(find_cgroup2_mount_in(hybrid)->string() == "/sys/fs/cgroup/unified");

  const char* unified = "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n";
  CHECK(find_cgroup2_mount_in(unified)->string() == "/sys/fs/cgroup");

  // No optional fields, and a mount point with an escaped space.
  const char* escaped = "40 1 0:50 / /mnt/my\\040cgroups rw - cgroup2 none rw\n";
  CHECK(find_cgroup2_mount_in(escaped)->string() == "/mnt/my cgroups");

  const char* v1_only = "33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,name=systemd\n";
  auto none = find_cgroup2_mount_in(v1_only);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("no cgroup2 filesystem is mounted") != std::string::npos);
  CHECK_FALSE(find_cgroup2_mount_in("garbage\n\n - \n").ok());
}

TEST_CASE("a process's cgroup v2 path is read from its cgroup list") {
  CHECK(*parse_proc_cgroup("12:memory:/x\n1:name=systemd:/y\n0::/agentd/acme/eng/coder-1\n") ==
        "/agentd/acme/eng/coder-1");
  CHECK(*parse_proc_cgroup("0::/\n") == "/");
  CHECK_FALSE(parse_proc_cgroup("12:memory:/x\n").ok());
  CHECK_FALSE(parse_proc_cgroup("").ok());
}

TEST_CASE("path_is_within compares whole components") {
  CHECK(path_is_within("/a/b/c", "/a/b"));
  CHECK(path_is_within("/a/b", "/a/b"));
  CHECK(path_is_within("/a/b/", "/a/b"));
  CHECK(path_is_within("/a/b", "/a/b/"));
  CHECK(path_is_within("/a/b/../b/c", "/a/b"));
  CHECK_FALSE(path_is_within("/a/bc", "/a/b"));
  CHECK_FALSE(path_is_within("/a", "/a/b"));
  CHECK_FALSE(path_is_within("/a/b/../c", "/a/b"));
}
