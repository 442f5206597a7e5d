#!/usr/bin/python3
"""Accepts TCP connections on 127.0.0.1:PORT and never answers (a hung server's kernel
still completes the handshake). Prints 'ready' when listening; exits after LIFETIME s."""
import socket
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the tree
from tcpfwd import listen  # noqa: E402 (after the line above)

port, lifetime = int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 20
s = listen(port)
print("ready", flush=True)
held, end = [], time.time() + lifetime
while time.time() < end:
    try:
        c, _ = s.accept()
        held.append(c)
    except socket.timeout:
        pass
