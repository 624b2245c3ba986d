#!/usr/bin/env python3
"""TCP relay from the devcloud bridge address to the control plane on loopback.

With `bin/devcloud up --netns`, the compute hosts live in their own network
namespaces, where 127.0.0.1 is their own loopback. The control-plane services
keep listening on 127.0.0.1 exactly as in the default cloud (nothing about
them changes); this relay listens on the bridge address (e.g. 10.254.0.1) for
the ports the computes use (RabbitMQ, Keystone, Placement, Glance, Neutron,
Nova) and forwards each connection to 127.0.0.1 on the same port. RabbitMQ
thus sees the computes' connections come from loopback, where `guest` may log
in. Cutting a host off (routes in its namespace) stops its traffic before it
reaches this relay. Stdlib only; two threads per connection.
"""

import argparse
import signal
import socket
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def bind(listen, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((listen, port))
    ls.listen(128)
    return ls


def serve(ls, port, target):
    while True:
        client, _ = ls.accept()
        try:
            upstream = socket.create_connection((target, port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

        def run(a=client, b=upstream):
            t = threading.Thread(target=pump, args=(b, a), daemon=True)
            t.start()
            pump(a, b)
            t.join()
            a.close()
            b.close()

        threading.Thread(target=run, daemon=True).start()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--listen', required=True)
    p.add_argument('--target', default='127.0.0.1')
    p.add_argument('--ports', required=True, help='comma-separated')
    a = p.parse_args(argv)
    ports = [int(x) for x in a.ports.split(',') if x]
    listeners = [(bind(a.listen, port), port) for port in ports]
    for ls, port in listeners:
        threading.Thread(target=serve, args=(ls, port, a.target),
                         daemon=True).start()
    print('netns-proxy: %s:{%s} -> %s' % (a.listen, a.ports, a.target),
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == '__main__':
    main(sys.argv[1:])
