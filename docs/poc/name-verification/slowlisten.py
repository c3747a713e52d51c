#!/usr/bin/env python3
"""Server for the race case: a listener whose accept queue is full (one
filler connection), so a new SYN is dropped; after DELAY s it accepts
everything and prints what each connection sent."""
import socket, sys, time, threading
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", 81)); s.listen(0)
print("listening", flush=True)
while True:
    line = sys.stdin.readline()
    if not line: break
    time.sleep(float(line))
    s.settimeout(6)
    try:
        while True:
            c, a = s.accept()
            c.settimeout(1)
            try: d = c.recv(4096)
            except socket.timeout: d = b"<nothing within 1 s>"
            print("accepted", a[0], "got", d[:60], flush=True)
    except socket.timeout:
        print("done", flush=True)
