#!/bin/sh
# Run a command in the test cgroup, then in the client namespace (join the
# cgroup first: ip netns exec remounts /sys, hiding the cgroup2 mount).
CG=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)/pocsni
echo $$ > "$CG/cgroup.procs" || exit 1
exec ip netns exec pocsni-c "$@"
