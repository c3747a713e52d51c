#!/bin/sh
# Test world for the PoC: two namespaces joined by a veth, documentation
# addresses only; up | down. Everything it makes is named pocsni*.
set -e
PY=${PY:-python3}
CG=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)/pocsni
D=${POC_RUN:-/work/poc-sni/run}
case "$1" in
up)
	mkdir -p $D "$CG"
	ip netns add pocsni-c
	ip netns add pocsni-s
	ip link add pocsni0 netns pocsni-c type veth peer name pocsni1 netns pocsni-s
	ip -n pocsni-c addr add 203.0.113.2/24 dev pocsni0
	ip -n pocsni-s addr add 203.0.113.1/24 dev pocsni1
	ip -n pocsni-c addr add 2001:db8:5c::2/64 dev pocsni0 nodad
	ip -n pocsni-s addr add 2001:db8:5c::1/64 dev pocsni1 nodad
	for n in pocsni-c pocsni-s; do ip -n $n link set lo up; done
	ip -n pocsni-c link set pocsni0 up
	ip -n pocsni-s link set pocsni1 up
	# fast open: client may send data in the SYN without a cookie (0x5),
	# server accepts it (0x2 | 0x200 no cookie)
	ip netns exec pocsni-c sysctl -qw net.ipv4.tcp_fastopen=5
	ip netns exec pocsni-s sysctl -qw net.ipv4.tcp_fastopen=0x202
	[ -f $D/key.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout $D/key.pem -out $D/cert.pem \
		-days 2 -subj /CN=good.example.test >/dev/null 2>&1
	ip netns exec pocsni-s openssl s_server -quiet -key $D/key.pem -cert $D/cert.pem -accept 443 -www \
		>$D/tls4.log 2>&1 & echo $! > $D/tls4.pid
	ip netns exec pocsni-s openssl s_server -quiet -key $D/key.pem -cert $D/cert.pem -accept '[::]:8443' -6 -www \
		>$D/tls6.log 2>&1 & echo $! > $D/tls6.pid
	ip netns exec pocsni-s $PY -c '
import http.server, socket
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.socket.setsockopt(socket.IPPROTO_TCP, 23, 16)  # TCP_FASTOPEN
        super().server_bind()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("host " + str(self.headers.get("Host")) + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): print(self.headers.get("Host"), *a, flush=True)
S(("::", 80), H).serve_forever()' >$D/http.log 2>&1 & echo $! > $D/http.pid
	# a sink for the benchmark
	ip netns exec pocsni-s $PY -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 9000)); s.listen(64)
def drain(c):
    while c.recv(1 << 16): pass
while True:
    c, _ = s.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()' >$D/sink.log 2>&1 & echo $! > $D/sink.pid
	sleep 1
	;;
down)
	for p in tls4 tls6 http sink; do
		[ -f $D/$p.pid ] && kill "$(cat $D/$p.pid)" 2>/dev/null || true
		rm -f $D/$p.pid
	done
	ip netns del pocsni-c 2>/dev/null || true
	ip netns del pocsni-s 2>/dev/null || true
	rmdir "$CG" 2>/dev/null || true
	;;
esac
