#!/bin/busybox sh
# PID 1 of a Debian 12 (6.1) VM booted with agentd's scripts/vm initramfs
# (host root read-only over 9p): loads the PoC, runs tests.sh, powers off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PY=/usr/bin/python3 POC_RUN=/tmp/run
BB=/bin/busybox
$BB mount -t proc proc /proc; $BB mount -t sysfs sysfs /sys; $BB mount -t devtmpfs devtmpfs /dev
for d in /tmp /run /var; do $BB mount -t tmpfs tmpfs $d; done
$BB mount -t cgroup2 cgroup2 /sys/fs/cgroup; $BB mount -t bpf bpf /sys/fs/bpf
$BB mkdir -p /run/res && $BB mount -t 9p -o trans=virtio,version=9p2000.L results /run/res
echo /work/main/scripts/vm/modprobe > /proc/sys/kernel/modprobe
/work/main/scripts/vm/modprobe veth
ip link set lo up
cd /work/poc-sni
{
echo "kernel $(uname -r)"
mkdir -p /sys/fs/cgroup/pocsni $POC_RUN
./loader -c /sys/fs/cgroup/pocsni -p 443 -p 80 -p 8443 -p 81 -a good.example.test -a '*.ok.example.test' \
	-a abc.test -d evil.example.test > $POC_RUN/loader.log 2>&1 &
LP=$!
sleep 8
cat $POC_RUN/loader.log
./world.sh up && ./tests.sh
kill -INT $LP; sleep 1
cat $POC_RUN/loader.log
} > /run/res/out.txt 2>&1
sync
$BB poweroff -f
