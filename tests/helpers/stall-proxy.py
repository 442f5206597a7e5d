#!/usr/bin/python3
"""Forwards 127.0.0.1:PORT to 127.0.0.1:TARGET. The first time a client sends bytes that
contain PATTERN, it SIGSTOPs process PID (the target mariadbd) and then forwards them: the
statement sits in the stalled server's socket buffer, as when a server stalls right after
a statement was sent (FACTS 40). Prints 'ready' when listening; exits after LIFETIME s.

    stall-proxy.py PORT TARGET PID PATTERN [LIFETIME [MOVE_TO]]

With MOVE_TO (a port), SIGUSR1 moves the proxy, as a VIP moves: connections accepted
after it go to 127.0.0.1:MOVE_TO, the open ones stay where they are (it prints 'moved')."""
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the tree
from tcpfwd import relay, serve  # noqa: E402 (after the line above)

port, target, pid, pattern = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lifetime = float(sys.argv[5]) if len(sys.argv) > 5 else 30
move_to = int(sys.argv[6]) if len(sys.argv) > 6 else None
fired = threading.Event()


def move(_sig, _frame):
    global target
    if move_to is not None:
        target = move_to
        print("moved", flush=True)


signal.signal(signal.SIGUSR1, move)


def stall_on_pattern(from_server, data):
    if not from_server and not fired.is_set() and pattern.encode() in data:
        fired.set()
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.3)   # every thread of the server has stopped
        print("stopped", flush=True)


serve(port, lifetime, lambda c, _t: relay(c, target, lifetime, stall_on_pattern))
