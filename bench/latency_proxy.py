#!/usr/bin/env python3
"""A UNIX-socket proxy to libvirtd that adds a fixed one-way delay, standing in for a remote host.

    bench/latency_proxy.py LISTEN_SOCKET DELAY_MS [TARGET_SOCKET]

Listens on LISTEN_SOCKET and forwards every connection to TARGET_SOCKET (default libvirtd's
/var/run/libvirt/libvirt-sock). Each chunk read in either direction is sent on DELAY_MS after it
arrived, in order, without holding up the chunks behind it: a link with that latency each way
(a round trip costs 2 x DELAY_MS) and no bandwidth limit, as `tc netem delay` on the loopback
would give. Clients reach it as qemu+unix:///system?socket=LISTEN_SOCKET. Prints "ready" once it
listens; runs until it is sent SIGTERM or SIGINT.
"""

import os
import queue
import signal
import socket
import sys
import threading
import time

CHUNK = 65536


def deliver(source, sink, delay):
    """Copies source to sink, each chunk `delay` seconds after it was read; then half-closes."""
    pending = queue.Queue()

    def send_when_due():
        while True:
            due, data = pending.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if data is None:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    sender = threading.Thread(target=send_when_due, daemon=True)
    sender.start()
    while True:
        try:
            data = source.recv(CHUNK)
        except OSError:
            data = b""
        pending.put((time.monotonic() + delay, data or None))
        if not data:
            break
    sender.join()


def serve(client, target, delay):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(target)
    except OSError as error:
        print(f"latency_proxy: cannot reach {target}: {error}", file=sys.stderr)
        client.close()
        return
    back = threading.Thread(target=deliver, args=(upstream, client, delay), daemon=True)
    back.start()
    deliver(client, upstream, delay)
    back.join()
    client.close()
    upstream.close()


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    listen_path, delay = sys.argv[1], float(sys.argv[2]) / 1000.0
    target = sys.argv[3] if len(sys.argv) == 4 else "/var/run/libvirt/libvirt-sock"
    if os.path.exists(listen_path):
        os.unlink(listen_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(listen_path)
    listener.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    try:
        while True:
            client, _ = listener.accept()
            threading.Thread(target=serve, args=(client, target, delay), daemon=True).start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        listener.close()
        os.unlink(listen_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
