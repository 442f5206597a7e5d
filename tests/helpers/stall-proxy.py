#!/usr/bin/python3
"""Forwards 127.0.0.1:PORT to 127.0.0.1:TARGET. The first time a client sends bytes that
contain PATTERN, it SIGSTOPs process PID (the target mariadbd) and then forwards them: the
statement sits in the stalled server's socket buffer, as when a server stalls right after
a statement was sent (FACTS 40). Prints 'ready' when listening; exits after LIFETIME s.

    stall-proxy.py PORT TARGET PID PATTERN [LIFETIME [MOVE_TO]]

With MOVE_TO (a port), SIGUSR1 moves the proxy, as a VIP moves: connections accepted
after it go to 127.0.0.1:MOVE_TO, the open ones stay where they are (it prints 'moved')."""
import os
import select
import signal
import socket
import sys
import threading
import time

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


def pump(client, to):
    try:
        server = socket.create_connection(("127.0.0.1", to), timeout=5)
    except OSError:
        client.close()
        return
    end = time.time() + lifetime
    try:
        while time.time() < end:
            ready, _, _ = select.select([client, server], [], [], 0.2)
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                if s is client and not fired.is_set() and pattern.encode() in data:
                    fired.set()
                    os.kill(pid, signal.SIGSTOP)
                    time.sleep(0.3)   # every thread of the server has stopped
                    print("stopped", flush=True)
                (server if s is client else client).sendall(data)
    except OSError:
        pass
    finally:
        client.close()
        server.close()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
ls.settimeout(0.2)
print("ready", flush=True)
stop = time.time() + lifetime
while time.time() < stop:
    try:
        c, _ = ls.accept()
        threading.Thread(target=pump, args=(c, target), daemon=True).start()
    except socket.timeout:
        pass
