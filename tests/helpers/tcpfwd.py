"""The TCP plumbing the test helpers share (stall-proxy.py, slow-greeter.py,
silent-listener.py): a listener on 127.0.0.1 that prints 'ready' and lives LIFETIME
seconds, and a relay that copies bytes both ways with a hook on every chunk."""
import select
import socket
import threading
import time


def listen(port):
    """A listening socket on 127.0.0.1:port, accept() cut every 0.2 s."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    ls.settimeout(0.2)
    return ls


def serve(port, lifetime, handle):
    """Prints 'ready', then runs handle(conn, accepted_at) in a thread per connection
    for lifetime seconds."""
    ls = listen(port)
    print("ready", flush=True)
    stop = time.time() + lifetime
    while time.time() < stop:
        try:
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(c, time.time()), daemon=True).start()
        except socket.timeout:
            pass


def relay(client, to, lifetime, on_chunk):
    """Connects to 127.0.0.1:to and copies bytes both ways until a side closes or
    lifetime seconds pass; on_chunk(from_server, data) runs before each chunk is passed
    on. Both sockets are closed at the end."""
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
                on_chunk(s is server, data)
                (server if s is client else client).sendall(data)
    except OSError:
        pass
    finally:
        client.close()
        server.close()
