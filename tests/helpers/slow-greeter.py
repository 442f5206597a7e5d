#!/usr/bin/python3
"""Forwards 127.0.0.1:PORT to 127.0.0.1:TARGET (a real mariadbd) and holds the server's
first bytes of every connection (its greeting) back for DELAY_MS: a live server on a
saturated host, whose greeting comes later than a promotion's greeting budget. Everything
after the greeting flows at once. Prints 'ready' when listening; exits after LIFETIME s.

    slow-greeter.py PORT TARGET DELAY_MS [LIFETIME]"""
import select
import socket
import sys
import threading
import time

port, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 30


def pump(client, start):
    try:
        server = socket.create_connection(("127.0.0.1", target), timeout=5)
    except OSError:
        client.close()
        return
    greeted = False
    end = start + lifetime
    try:
        while time.time() < end:
            ready, _, _ = select.select([client, server], [], [], 0.2)
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                if s is server and not greeted:
                    greeted = True
                    time.sleep(max(0.0, start + delay - time.time()))
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
        threading.Thread(target=pump, args=(c, time.time()), daemon=True).start()
    except socket.timeout:
        pass
