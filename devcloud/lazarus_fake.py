# Lazarus devcloud fake virt driver.
#
# bin/devcloud copies this file into the devcloud venv as
# nova/virt/lazarus_fake.py (Nova loads drivers only from the nova.virt
# package) and sets compute_driver = lazarus_fake.LazarusFakeDriver.
#
# What it changes from nova.virt.fake.FakeDriver:
# - Stable node identity: the node UUID is uuid5(namespace, node name) and is
#   written to $state_path/compute_id, so a killed and restarted compute comes
#   back as the same compute node / resource provider (the stock driver
#   invents a random UUID per process and never writes compute_id, so a
#   restarted compute refuses to start: "No local node identity found").
# - Live migration drops the instance from the source (post_live_migration),
#   so it can later be evacuated or migrated back without InstanceExists.
# - The fake "hypervisor" keeps its guests in $state_path/fake_instances.json,
#   so a killed nova-compute (not a dead host) still sees its guests when it
#   restarts, like a real hypervisor whose guests outlive nova-compute; on
#   restart Nova then destroys the guests that were evacuated meanwhile.
# - Resources come from the [devcloud] section of the compute's config:
#   vcpus, memory_mb, local_gb.

import json
import os
import threading
import uuid

from oslo_config import cfg
from oslo_log import log as logging

from nova.compute import power_state
import nova.conf
from nova.virt import fake

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

NODE_NAMESPACE = uuid.UUID('6f1c2a4e-8d0b-5c3e-9a7f-1b2c3d4e5f60')
COMPUTE_ID_FILE = 'compute_id'
INSTANCES_FILE = 'fake_instances.json'

devcloud_opts = [
    cfg.IntOpt('vcpus', default=16, min=1,
               help='VCPUs reported by this fake compute.'),
    cfg.IntOpt('memory_mb', default=32768, min=1,
               help='Memory (MB) reported by this fake compute.'),
    cfg.IntOpt('local_gb', default=200, min=1,
               help='Local disk (GB) reported by this fake compute.'),
    cfg.BoolOpt('persist_instances', default=True,
                help='Keep the fake guests in $state_path/'
                     'fake_instances.json across restarts.'),
]
CONF.register_opts(devcloud_opts, group='devcloud')


def node_uuid(nodename):
    """The stable compute node UUID of a node name."""
    return str(uuid.uuid5(NODE_NAMESPACE, 'lazarus-devcloud:%s' % nodename))


def _persisting(name):
    def method(self, *args, **kwargs):
        try:
            return getattr(super(LazarusFakeDriver, self), name)(
                *args, **kwargs)
        finally:
            self._save_instances()
    method.__name__ = name
    return method


class LazarusFakeDriver(fake.FakeDriver):

    def __init__(self, virtapi, read_only=False):
        self.vcpus = CONF.devcloud.vcpus
        self.memory_mb = CONF.devcloud.memory_mb
        self.local_gb = CONF.devcloud.local_gb
        super().__init__(virtapi, read_only)
        self._save_lock = threading.Lock()
        self._ensure_compute_id()

    # -- node identity -----------------------------------------------------

    def _nodename(self):
        return self._nodes[0] if self._nodes else CONF.host

    def _ensure_compute_id(self):
        wanted = node_uuid(CONF.host)
        path = os.path.join(CONF.state_path, COMPUTE_ID_FILE)
        try:
            with open(path) as f:
                have = f.read(40).strip()
        except FileNotFoundError:
            os.makedirs(CONF.state_path, exist_ok=True)
            with open(path, 'w') as f:
                f.write(wanted)
            LOG.info('Wrote node identity %s to %s', wanted, path)
            return
        if have != wanted:
            LOG.warning('Node identity in %s is %s, expected %s for host %s',
                        path, have, wanted, CONF.host)

    def get_available_resource(self, nodename):
        resources = super().get_available_resource(nodename)
        if resources:
            resources['uuid'] = node_uuid(nodename)
        return resources

    def get_nodenames_by_uuid(self, refresh=False):
        return {node_uuid(n): n for n in self.get_available_nodes()}

    # -- persistence of the fake guests --------------------------------------

    def _instances_path(self):
        return os.path.join(CONF.state_path, INSTANCES_FILE)

    def _save_instances(self):
        if not CONF.devcloud.persist_instances:
            return
        data = {u: {'name': i.name, 'state': i.state}
                for u, i in list(self.instances.items())}
        path = self._instances_path()
        with self._save_lock:
            tmp = path + '.tmp'
            with open(tmp, 'w') as f:
                json.dump(data, f)
            os.replace(tmp, path)

    def _load_instances(self):
        if not CONF.devcloud.persist_instances:
            return
        try:
            with open(self._instances_path()) as f:
                data = json.load(f)
        except FileNotFoundError:
            return
        except ValueError:
            LOG.warning('Ignoring unreadable %s', self._instances_path())
            return
        for u, i in data.items():
            self.instances[u] = fake.FakeInstance(
                i.get('name'), i.get('state', power_state.RUNNING), u)
        LOG.info('Fake hypervisor still runs %d guest(s): %s',
                 len(self.instances), ', '.join(sorted(self.instances)))

    def init_host(self, host):
        super().init_host(host)
        self._load_instances()

    # -- live migration ------------------------------------------------------

    def post_live_migration(self, context, instance, block_device_info,
                            migrate_data=None):
        # Runs on the source after a successful live migration: the guest
        # now lives on the destination only.
        try:
            self.destroy(context, instance, network_info=None,
                         block_device_info=block_device_info)
        finally:
            self._save_instances()

    def live_migration_force_complete(self, instance):
        return


for _name in ('spawn', 'destroy', 'reboot', 'power_off', 'power_on',
              'rescue', 'unrescue', 'pause', 'unpause', 'suspend', 'resume',
              'soft_delete', 'restore', 'finish_migration',
              'finish_revert_migration', 'confirm_migration',
              'post_live_migration_at_destination', '_test_remove_vm'):
    setattr(LazarusFakeDriver, _name, _persisting(_name))
del _name
