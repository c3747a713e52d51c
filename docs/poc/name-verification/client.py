#!/usr/bin/env python3
"""PoC client: sends a first message and reports what the kernel did.

client.py ADDR PORT MODE [ARG] [--split N] [--v6]
  tls NAME      a real ClientHello (OpenSSL via ssl.MemoryBIO) with SNI NAME
                ("" for none); --split N: first write N bytes, then the rest
  http HOST     GET / HTTP/1.1 with Host: HOST
  raw TEXT      TEXT (\\r\\n escapes honoured)
  tfo HOST      the HTTP request as TCP fast open data (sendto MSG_FASTOPEN)
  race HOST     non-blocking connect, then a blocking send issued while the
                handshake is still in flight
  sendfile HOST the HTTP request sent with os.sendfile
  bench N       N sends of 64 bytes (prints the time)
"""
import errno
import os
import socket
import ssl
import sys
import tempfile
import time


def hello(name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname=name or None)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def crafted(name, pad=0, ech=False, records=1):
    """A ClientHello built by hand: padding extension of PAD bytes (a stand-in
    for ML-KEM key shares) before the SNI, optionally an ECH extension, the
    handshake optionally split over RECORDS TLS records."""
    def ext(t, body):
        return t.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    exts = b""
    if pad:
        exts += ext(21, b"\0" * pad)
    exts += ext(43, b"\x02\x03\x04")  # supported_versions: TLS 1.3
    if ech:
        exts += ext(0xfe0d, b"\0" * 32)
    if name:
        n = name.encode()
        exts += ext(0, (len(n) + 3).to_bytes(2, "big") + b"\0" + len(n).to_bytes(2, "big") + n)
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32) + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += len(exts).to_bytes(2, "big") + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    out, step = b"", -(-len(hs) // records)
    for i in range(0, len(hs), step):
        part = hs[i:i + step]
        out += b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part
    return out


def report_send(s, data):
    try:
        n = s.send(data)
        print(f"send {len(data)} bytes -> {n}")
        return True
    except OSError as e:
        print(f"send {len(data)} bytes -> error {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")
        return False


def report_recv(s):
    s.settimeout(2)
    try:
        d = s.recv(4096)
        print(f"recv -> {len(d)} bytes {d[:40]!r}")
    except socket.timeout:
        print("recv -> timeout (nothing came back in 2 s)")
    except OSError as e:
        print(f"recv -> error {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")


def request(host):
    return f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: poc\r\nConnection: close\r\n\r\n".encode()


def main():
    args = sys.argv[1:]
    split = None
    if "--split" in args:
        i = args.index("--split")
        split = int(args[i + 1])
        del args[i:i + 2]
    addr, port, mode = args[0], int(args[1]), args[2]
    arg = args[3] if len(args) > 3 else ""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "tfo":
        data = request(arg)
        try:
            n = s.sendto(data, socket.MSG_FASTOPEN, (addr, port))
            print(f"sendto(MSG_FASTOPEN) {len(data)} bytes -> {n}")
        except OSError as e:
            print(f"sendto(MSG_FASTOPEN) -> error {errno.errorcode.get(e.errno, e.errno)}")
        report_recv(s)
        return
    if mode == "race":
        s.setblocking(False)
        try:
            s.connect((addr, port))
        except BlockingIOError:
            pass
        s.setblocking(True)
        report_send(s, request(arg))  # waits in tcp_sendmsg for the handshake
        report_recv(s)
        return
    s.connect((addr, port))
    if mode in ("tls", "big", "ech", "frag"):
        if mode == "tls":
            data = hello(arg)
        elif mode == "big":
            data = crafted(arg, pad=1700)
        elif mode == "ech":
            data = crafted(arg, ech=True)
        else:
            data = crafted(arg, pad=300, records=2)
        print(f"ClientHello {len(data)} bytes, SNI {arg!r}")
        if split:
            if report_send(s, data[:split]):
                time.sleep(0.1)
                report_send(s, data[split:])
        else:
            report_send(s, data)
        if report_send(s, b"\x15\x03\x03\x00\x02\x01\x00") is None:
            pass
        report_recv(s)
    elif mode == "http":
        data = request(arg)
        if split:
            if report_send(s, data[:split]):
                time.sleep(0.1)
                report_send(s, data[split:])
        else:
            report_send(s, data)
        report_recv(s)
    elif mode == "raw":
        report_send(s, arg.encode().decode("unicode_escape").encode("latin-1"))
        report_recv(s)
    elif mode == "sendfile":
        with tempfile.TemporaryFile() as f:
            f.write(request(arg))
            f.flush()
            try:
                n = os.sendfile(s.fileno(), f.fileno(), 0, 4096)
                print(f"sendfile -> {n}")
            except OSError as e:
                print(f"sendfile -> error {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")
        report_recv(s)
    elif mode == "bench":
        n = int(arg)
        first = request("good.example.test")
        s.send(first)  # the verified first message
        buf = b"x" * 64
        t = time.perf_counter()
        for _ in range(n):
            s.send(buf)
        dt = time.perf_counter() - t
        print(f"bench {n} sends of 64 B: {dt:.3f} s, {dt / n * 1e9:.0f} ns/send")


if __name__ == "__main__":
    main()
