#!/usr/bin/python3
"""Test servers for the name verification e2e tests (test_names.cpp), run in
the world's internet namespace on every address (IPv4 and IPv6):
  8443  TLS, a self-signed certificate for the SNI the client sent (so one
        address serves any name, as a CDN does), then HTTP inside
  8081  plain HTTP
  2222  a server-first protocol: a banner, then it echoes one line
Every request that arrives is one line on stdout: "tls SNI HOST PATH" or
"http - HOST PATH": what the tests read to show the denied name never got
through. Usage: name_server.py DIR (certificates are made there)."""
import http.server
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading

DIR = sys.argv[1]
lock = threading.Lock()
contexts = {}


def log(line):
    with lock:
        print(line, flush=True)


def context_for(name):
    with lock:
        if name in contexts:
            return contexts[name]
        key, crt = os.path.join(DIR, name + ".key"), os.path.join(DIR, name + ".crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name,
                        "-keyout", key, "-out", crt], check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        contexts[name] = ctx
        return ctx


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        sni = getattr(self.connection, "sni", None)
        log("%s %s %s %s" % ("tls" if sni is not None else "http", sni or "-", self.headers.get("Host"), self.path))
        body = b"hello " + (self.headers.get("Host") or "").encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # A method no standard names, answered as GET: nginx passes any
    # upper-case method on, Go takes any token.
    do_XPOST = do_GET

    def log_message(self, *args):
        pass


class DualStack(socketserver.ThreadingMixIn):
    """On [::], IPv4 too: one server for both families."""
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Server(DualStack, http.server.HTTPServer):
    pass


class TlsServer(Server):
    def get_request(self):
        sock, addr = self.socket.accept()
        base = context_for("default.test")
        chosen = {}

        def pick(tls, name, _):
            chosen["sni"] = name or ""
            tls.context = context_for(name or "default.test")

        base.sni_callback = pick
        tls = base.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        tls.settimeout(10)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError):
            tls.close()
            raise OSError("handshake failed")
        tls.sni = chosen.get("sni", "")
        return tls, addr


class Banner(DualStack, socketserver.TCPServer):
    pass


class BannerHandler(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"SSH-2.0-agentd-test\r\n")
        line = self.rfile.readline(200)
        log("banner - - " + line.decode(errors="replace").strip())
        self.wfile.write(line)


context_for("default.test")
servers = [TlsServer(("::", 8443), Handler), Server(("::", 8081), Handler), Banner(("::", 2222), BannerHandler)]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
log("ready")
servers[0].serve_forever()
