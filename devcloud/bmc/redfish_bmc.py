#!/usr/bin/env python3
"""A Redfish BMC for one devcloud host (a network namespace). Stdlib only.

It serves, on its own loopback port, what a fencing client needs:

    GET  /redfish/v1                       service root (no auth, as the spec says)
    GET  /redfish/v1/Systems               the collection: one member
    GET  /redfish/v1/Systems/<name>        the ComputerSystem: PowerState, Actions
    POST /redfish/v1/Systems/<name>/Actions/ComputerSystem.Reset
         {"ResetType": "ForceOff" | "On" | "ForceRestart"}

Every other request needs HTTP Basic auth (user and password from --password-file,
written by bin/devcloud with mode 0600).

"Power" is the host's namespace: ForceOff sends SIGKILL to every process in the
namespace (nova-compute, the agent, whatever they forked) and keeps doing so until
none is left; PowerState reads `PoweringOff` while any remains and `Off` only once
the namespace is empty, so Off is never claimed early. On runs the boot command
(bin/devcloud's internal `_boot NAME`: nova-compute and the agent, inside the
namespace). The power switch is kept in --power-file, so it survives a restart
of this server and bin/devcloud refuses to start a compute whose host is off.
"""

import argparse
import base64
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESET_TYPES = ['On', 'ForceOff', 'ForceRestart']


def netns_pids(netns):
    """The pids whose network namespace is `netns` (ip netns pids)."""
    r = subprocess.run(['ip', 'netns', 'pids', netns], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


class Host:
    """The power of one host: a switch (the power file) and its namespace."""

    def __init__(self, name, netns, power_file, boot_cmd):
        self.name = name
        self.netns = netns
        self.power_file = power_file
        self.boot_cmd = boot_cmd
        self.lock = threading.Lock()
        self.killer = None

    def switch(self):
        try:
            with open(self.power_file) as f:
                return f.read().strip() or 'On'
        except OSError:
            return 'On'

    def set_switch(self, value):
        tmp = self.power_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write(value + '\n')
        os.replace(tmp, self.power_file)

    def power_state(self):
        """On; Off once the namespace is empty; PoweringOff before that."""
        if self.switch() == 'On':
            return 'On'
        return 'PoweringOff' if netns_pids(self.netns) else 'Off'

    def _kill_all(self, deadline=30.0):
        """SIGKILL everything in the namespace until nothing is left."""
        end = time.time() + deadline
        while time.time() < end:
            pids = netns_pids(self.netns)
            if not pids:
                return True
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)
        return False

    def force_off(self):
        with self.lock:
            self.set_switch('Off')
            self._kill_all()

    def on(self):
        with self.lock:
            if self.switch() == 'On' and netns_pids(self.netns):
                return True
            self.set_switch('On')
            return self._boot()

    def restart(self):
        with self.lock:
            self.set_switch('Off')
            self._kill_all()
            self.set_switch('On')
            return self._boot()

    def _boot(self):
        r = subprocess.run(self.boot_cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        log('boot %s: exit %d %s' % (self.name, r.returncode,
                                     r.stdout.strip()[-300:]))
        return r.returncode == 0


def log(msg):
    print('%s redfish-bmc: %s' % (time.strftime('%H:%M:%S'), msg), flush=True)


def error_body(code, message):
    return {'error': {'code': 'Base.1.8.%s' % code, 'message': message,
                      '@Message.ExtendedInfo': [{
                          'MessageId': 'Base.1.8.%s' % code,
                          'Message': message}]}}


def make_handler(host, username, password, system_uuid):
    sys_uri = '/redfish/v1/Systems/%s' % host.name
    reset_uri = sys_uri + '/Actions/ComputerSystem.Reset'
    expected = 'Basic ' + base64.b64encode(
        ('%s:%s' % (username, password)).encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        server_version = 'devcloud-redfish-bmc/1'

        def log_message(self, fmt, *args):
            log('%s %s' % (self.address_string(), fmt % args))

        def send_json(self, status, body, extra=None):
            data = json.dumps(body).encode() if body is not None else b''
            self.send_response(status)
            if body is not None:
                self.send_header('Content-Type', 'application/json')
            self.send_header('OData-Version', '4.0')
            self.send_header('Content-Length', str(len(data)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if data:
                self.wfile.write(data)

        def authorized(self):
            got = self.headers.get('Authorization', '')
            if hmac.compare_digest(got.encode(), expected.encode()):
                return True
            self.send_json(401, error_body(
                'InsufficientPrivilege', 'authentication required'),
                {'WWW-Authenticate': 'Basic realm="devcloud-bmc"'})
            return False

        def path_only(self):
            return self.path.split('?', 1)[0].rstrip('/') or '/'

        def do_GET(self):
            path = self.path_only()
            if path == '/redfish':
                return self.send_json(200, {'v1': '/redfish/v1/'})
            if path == '/redfish/v1':
                return self.send_json(200, {
                    '@odata.id': '/redfish/v1',
                    '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
                    'Id': 'RootService', 'Name': 'devcloud BMC of %s'
                    % host.name, 'RedfishVersion': '1.6.0',
                    'UUID': system_uuid,
                    'Systems': {'@odata.id': '/redfish/v1/Systems'}})
            if not self.authorized():
                return None
            if path == '/redfish/v1/Systems':
                return self.send_json(200, {
                    '@odata.id': '/redfish/v1/Systems',
                    '@odata.type':
                        '#ComputerSystemCollection.ComputerSystemCollection',
                    'Name': 'Computer System Collection',
                    'Members@odata.count': 1,
                    'Members': [{'@odata.id': sys_uri}]})
            if path == sys_uri:
                return self.send_json(200, {
                    '@odata.id': sys_uri,
                    '@odata.type': '#ComputerSystem.v1_10_0.ComputerSystem',
                    'Id': host.name, 'Name': host.name, 'UUID': system_uuid,
                    'HostName': host.name, 'SystemType': 'Physical',
                    'PowerState': host.power_state(),
                    'Status': {'State': 'Enabled', 'Health': 'OK'},
                    'Actions': {'#ComputerSystem.Reset': {
                        'target': reset_uri,
                        'ResetType@Redfish.AllowableValues': RESET_TYPES}}})
            return self.send_json(404, error_body(
                'ResourceMissingAtURI', 'no resource at %s' % path))

        def do_POST(self):
            path = self.path_only()
            length = int(self.headers.get('Content-Length') or 0)
            raw = self.rfile.read(length) if length else b''
            if not self.authorized():
                return None
            if path != reset_uri:
                return self.send_json(404, error_body(
                    'ResourceMissingAtURI', 'no action at %s' % path))
            try:
                reset = json.loads(raw or b'{}').get('ResetType')
            except (ValueError, AttributeError):
                return self.send_json(400, error_body(
                    'MalformedJSON', 'the body is not a JSON object'))
            if reset not in RESET_TYPES:
                return self.send_json(400, error_body(
                    'ActionParameterValueNotInList',
                    'ResetType %r is not one of %s' % (reset, RESET_TYPES)))
            log('reset %s: %s' % (host.name, reset))
            if reset == 'ForceOff':
                # Returns once the switch is off; the kill runs on, and
                # PowerState says PoweringOff until the namespace is empty.
                host.set_switch('Off')
                threading.Thread(target=host.force_off, daemon=True).start()
                return self.send_json(204, None)
            ok = host.on() if reset == 'On' else host.restart()
            if not ok:
                return self.send_json(500, error_body(
                    'InternalError', 'the host did not boot (see the BMC '
                    'log)'))
            return self.send_json(204, None)

        def do_PATCH(self):
            self.send_json(405, error_body('OperationNotAllowed',
                                           'read-only resource'))

    return Handler


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--name', required=True, help='the host (Nova name)')
    p.add_argument('--netns', required=True, help='its network namespace')
    p.add_argument('--listen', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--username', default='admin')
    p.add_argument('--password-file', required=True)
    p.add_argument('--power-file', required=True)
    p.add_argument('--boot-cmd', required=True,
                   help='JSON list: the command that starts the host')
    a = p.parse_args(argv)
    with open(a.password_file) as f:
        password = f.readline().rstrip('\n')
    host = Host(a.name, a.netns, a.power_file, json.loads(a.boot_cmd))
    system_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, 'devcloud:%s:%s' % (
        a.netns, a.name)))
    server = ThreadingHTTPServer((a.listen, a.port), make_handler(
        host, a.username, password, system_uuid))
    server.daemon_threads = True
    log('BMC of %s (netns %s) on http://%s:%d/redfish/v1' % (
        a.name, a.netns, a.listen, a.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == '__main__':
    main(sys.argv[1:])
