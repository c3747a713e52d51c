#!/usr/bin/env bash
# Runs as root in each Vagrant box (see Vagrantfile): builds the Debian
# package from the tree at $1, installs it, checks the systemd service
# (scripts/systemd-smoke), and runs the whole test suite with CI=true.
#
# Debian 12 builds and installs natively. Ubuntu 22.04 and 24.04 carry other
# versions of the build dependencies (22.04: CMake 3.22 and libbpf 0.5, older
# than this tree needs; 24.04: Catch2 v3 and the t64 library names), so there
# the tree is built in a Debian 12 chroot (debootstrap) and the suite runs
# from it against the box's own kernel, cgroup tree and bpffs: the kernel is
# what the matrix checks. The package itself installs on Debian 12 only.
#
# With --package DEB (Vagrantfile: AGENTD_PACKAGE), Debian 12 installs that
# package, built on the host, and runs scripts/systemd-smoke only: no build,
# no network needed when the box has the package's dependencies.
set -euo pipefail
package=
if [[ "${1:-}" == --package ]]; then
  package=$2
  shift 2
fi
src=${1:-/agentd}
export DEBIAN_FRONTEND=noninteractive CI=${CI:-true}
. /etc/os-release
echo "provision: $PRETTY_NAME, kernel $(uname -r)"

native() {
  cd "$src"
  scripts/install-deps
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build -j"$(nproc)"
  (cd build && cpack -G DEB)
  # An install, then the same package again as an upgrade: both must leave
  # the service enforcing, the second without a gap.
  apt-get install -y ./build/agentd_*.deb
  scripts/systemd-smoke build/agentd_*.deb
  scripts/test
}

prebuilt() {
  cd "$src"
  # The dependencies are in the box already; apt needs no package lists for them.
  apt-get install -y --no-install-recommends "$package"
  scripts/systemd-smoke "$package"
}

in_bookworm_chroot() {
  local root=/srv/agentd-bookworm
  if [[ ! -x "$root/usr/bin/apt-get" ]]; then
    apt-get update -qq
    apt-get install -y -qq debootstrap
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
  fi
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # The kernel's file systems as the tests need them: the box's cgroup tree
  # and bpffs, a /run of the chroot's own (network namespaces live there).
  # The root a mount of its own: `ip netns` makes / a slave mount, which a
  # plain directory cannot be.
  mountpoint -q "$root" || mount --bind "$root" "$root"
  for fs in proc sys dev; do
    mountpoint -q "$root/$fs" || mount --rbind "/$fs" "$root/$fs"
    mount --make-rslave "$root/$fs"
  done
  mountpoint -q "$root/run" || mount -t tmpfs tmpfs "$root/run"
  mountpoint -q "$root/tmp" || mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$src"
  mountpoint -q "$root$src" || mount --bind "$src" "$root$src"
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root CI="$CI" \
    DEBIAN_FRONTEND=noninteractive bash -c "cd '$src' && scripts/test"
}

if [[ -n "$package" ]]; then
  [[ "$ID-$VERSION_ID" == debian-12 ]] || { echo "provision: --package installs on Debian 12 only" >&2; exit 1; }
  prebuilt
  echo "provision: $PRETTY_NAME passed"
  exit 0
fi
case "$ID-$VERSION_ID" in
  debian-12) native ;;
  ubuntu-22.04 | ubuntu-24.04) in_bookworm_chroot ;;
  *) echo "provision: $PRETTY_NAME is not in the matrix" >&2; exit 1 ;;
esac
echo "provision: $PRETTY_NAME passed"
