#!/usr/bin/python3
"""Forwards 127.0.0.1:PORT to 127.0.0.1:TARGET (a real mariadbd) and holds the server's
first bytes of every connection (its greeting) back for DELAY_MS: a live server on a
saturated host, whose greeting comes later than a promotion's greeting budget. Everything
after the greeting flows at once. Prints 'ready' when listening; exits after LIFETIME s.

    slow-greeter.py PORT TARGET DELAY_MS [LIFETIME]"""
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the tree
from tcpfwd import relay, serve  # noqa: E402 (after the line above)

port, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 30


def connection(client, start):
    greeted = []

    def hold_greeting(from_server, _data):
        if from_server and not greeted:
            greeted.append(1)
            time.sleep(max(0.0, start + delay - time.time()))

    relay(client, target, lifetime, hold_greeting)


serve(port, lifetime, connection)
