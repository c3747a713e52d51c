#!/usr/bin/python3
"""A socket that outlives its sandbox, for test_sandbox_lifecycle.cpp.
  fd_holder.py hold PATH RELEASE GO ADDR PORT   outside any sandbox: takes a TCP
      socket passed on the unix socket PATH and prints "held"; once the
      file RELEASE exists lets the giver go; once GO exists connects the socket
      to ADDR:PORT: prints "connected" and exits 0, or "refused <error>", exits 1
  fd_holder.py give PATH   in a sandbox: makes a TCP socket, passes it to the
      holder, and stays (keeping its sandbox in use) until the holder lets go
A socket with a path (any user may connect): Landlock keeps a sandbox from
abstract unix sockets outside it where the kernel has ABI 6."""
import os
import socket
import sys
import time

mode, name = sys.argv[1], sys.argv[2]


def wait_for(path):
    for _ in range(1200):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    sys.exit("%s never appeared" % path)


if mode == "give":
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.connect(name)
    socket.send_fds(unix, [b"x"], [tcp.fileno()])
    tcp.close()
    print("given", flush=True)
    unix.recv(1)  # until the holder lets go
    sys.exit(0)

release, go, addr, port = sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(name)
os.chmod(name, 0o777)
listener.listen(1)
print("listening", flush=True)
conn, _ = listener.accept()
_, fds, _, _ = socket.recv_fds(conn, 1, 1)
held = socket.socket(fileno=fds[0])
print("held", flush=True)
wait_for(release)
conn.close()
wait_for(go)
held.settimeout(3)
try:
    held.connect((addr, port))
    print("connected", flush=True)
    sys.exit(0)
except OSError as e:
    print("refused %s" % e, flush=True)
    sys.exit(1)
finally:
    os.unlink(name)
