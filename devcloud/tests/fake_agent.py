#!/usr/bin/env python3
"""A stand-in for the lazarus agent in netns_smoke.sh (DEVCLOUD_AGENT_CMD).

Listens on the host's own address (DEVCLOUD_HOST_ADDR), port 7777, where
peers and the controller can probe it: a connection that succeeds means the
host is powered and reachable from where it was made.
"""
import os
import socket

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ['DEVCLOUD_HOST_ADDR'], int(os.environ.get(
    'FAKE_AGENT_PORT', 7777))))
s.listen(16)
print('fake agent of %s listening on %s' % (
    os.environ.get('LAZARUS_HOST'), s.getsockname()), flush=True)
while True:
    s.accept()[0].close()
