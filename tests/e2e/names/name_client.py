#!/usr/bin/python3
"""A sandboxed client for the name verification e2e tests (test_names.cpp).
  name_client.py tls NAME ADDR PORT      a ClientHello with SNI NAME, then GET /
  name_client.py nosni NAME ADDR PORT    a ClientHello without SNI
  name_client.py split NAME ADDR PORT    the ClientHello in two writes, 300 ms apart
  name_client.py http NAME ADDR PORT     GET / with Host: NAME
  name_client.py sendfile NAME ADDR PORT the same request, written with sendfile(2) from a file
  name_client.py ech NAME ADDR PORT      a ClientHello with SNI NAME and an ECH extension (0xfe0d)
  name_client.py banner - ADDR PORT      read the server's banner, then send a line
Prints "ok <what came back>" and exits 0, or "refused <error>" and exits 1."""
import socket
import ssl
import struct
import sys
import tempfile
import time

mode, name, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def client_hello(ctx):
    """The ClientHello that Python's TLS would send for NAME: one record."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def with_ech(record):
    """The record with one more extension, an Encrypted Client Hello
    (0xfe0d, an empty outer payload): its lengths fixed up."""
    body = bytearray(record[9:])
    off = 2 + 32
    off += 1 + body[off]                                     # session id
    off += 2 + struct.unpack(">H", body[off:off + 2])[0]    # cipher suites
    off += 1 + body[off]                                     # compression
    ext_len = struct.unpack(">H", body[off:off + 2])[0]
    ech = b"\xfe\x0d\x00\x04\x00\x00\x00\x00"
    body[off:off + 2] = struct.pack(">H", ext_len + len(ech))
    body += ech
    hs = b"\x01" + len(body).to_bytes(3, "big") + bytes(body)
    return record[:3] + struct.pack(">H", len(hs)) + hs


def request(send, recv):
    send(b"GET / HTTP/1.1\r\nHost: " + name.encode() + b"\r\nConnection: close\r\n\r\n")
    data = b""
    while b"hello" not in data:
        chunk = recv(4096)
        if not chunk:
            break
        data += chunk
    return data


try:
    sock = socket.create_connection((addr, port), timeout=5)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if mode == "http":
        data = request(sock.sendall, sock.recv)
    elif mode == "sendfile":
        def send_from_file(b):
            with tempfile.TemporaryFile() as f:
                f.write(b)
                f.flush()
                f.seek(0)
                sock.sendfile(f)

        data = request(send_from_file, sock.recv)
    elif mode == "ech":
        sock.sendall(with_ech(client_hello(ctx)))
        data = sock.recv(100)  # the server's answer to a hello it cannot use, or nothing
    elif mode == "banner":
        banner = sock.recv(100)
        sock.sendall(b"SSH-2.0-client\r\n")
        data = banner + sock.recv(100)
    elif mode == "split":
        # The handshake through memory BIOs, so the ClientHello goes out
        # in two writes: the kernel must hold the first until it is whole.
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        sock.sendall(hello[:40])
        time.sleep(0.3)
        sock.sendall(hello[40:])
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                chunk = sock.recv(16384)
                if not chunk:
                    raise OSError("closed during the handshake")
                incoming.write(chunk)
        sock.sendall(outgoing.read())

        def send(b):
            tls.write(b)
            sock.sendall(outgoing.read())

        def recv(n):
            while True:
                try:
                    return tls.read(n)
                except ssl.SSLWantReadError:
                    chunk = sock.recv(16384)
                    if not chunk:
                        return b""
                    incoming.write(chunk)

        data = request(send, recv)
    else:
        tls = ctx.wrap_socket(sock, server_hostname=name if mode == "tls" else None)
        data = request(tls.sendall, tls.recv)
    print("ok", data.decode(errors="replace").replace("\r\n", " | "))
    sys.exit(0 if data else 1)
except (OSError, ssl.SSLError) as e:
    print("refused", repr(e))
    sys.exit(1)
