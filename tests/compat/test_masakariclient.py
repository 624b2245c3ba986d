"""python-masakariclient's openstackclient plugin (`openstack segment ...`) against lazarus.

The CLI an operator uses with Masakari, unchanged: `openstack --os-auth-type none
--os-endpoint <lazarus>/v1 segment|segment host|notification ...`. Needs
`pip install python-openstackclient==10.5.0 python-masakariclient==8.9.0` in the same
environment; skipped otherwise.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

OPENSTACK = pathlib.Path(sys.executable).parent / "openstack"


def have_masakariclient() -> bool:
    try:
        import masakariclient  # noqa: F401
    except ImportError:
        return False
    return OPENSTACK.exists()


pytestmark = pytest.mark.skipif(
    not have_masakariclient(), reason="python-masakariclient is not installed"
)


def run(api: str, args, version: str | None = None) -> subprocess.CompletedProcess:
    cmd = [str(OPENSTACK), "--os-auth-type", "none", "--os-endpoint", f"{api}/v1"]
    if version:
        cmd += ["--os-ha-api-version", version]
    # An OS_CLOUD / OS_AUTH_URL left in the environment (scripts/test exports the
    # devcloud's) would make openstackclient mix Keystone options into auth type none.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120, env=env)


def osc(api: str, *args: str, version: str | None = None):
    """Runs `openstack ... -f json` against the API and returns its parsed output."""
    proc = run(api, [*args, "-f", "json"], version)
    assert proc.returncode == 0, f"{args} failed: {proc.stderr}"
    return json.loads(proc.stdout)


def osc_refused(api: str, *args: str) -> str:
    """Runs a command the API must refuse; returns what the CLI printed.

    (Some masakariclient commands print the API's error and still exit 0.)
    """
    proc = run(api, args)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 or "Exception" in out, f"{args} was not refused: {out}"
    return out


def test_the_masakari_cli_manages_segments_hosts_and_notifications(api):
    # Each CLI run costs seconds (Python start-up), so this is one scenario, not many.
    seg = osc(api, "segment", "create", "rack", "auto", "COMPUTE")
    assert seg["name"] == "rack"
    assert seg["is_enabled"] is True

    host = osc(api, "segment", "host", "create", "compute-1", "COMPUTE", "SSH", "rack")
    assert host["failover_segment_id"] == seg["uuid"]
    # Commands address segments and hosts by name; the client resolves them by listing.
    updated = osc(api, "segment", "host", "update", "rack", "compute-1", "--reserved", "True")
    assert updated["reserved"] is True

    renamed = osc(api, "segment", "update", "rack", "--name", "rack-a", "--is_enabled", "False")
    assert renamed["name"] == "rack-a"
    assert renamed["is_enabled"] is False

    payload = {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}
    n = osc(api, "notification", "create", "COMPUTE_HOST", "compute-1",
            "2026-01-01 10:00:00", json.dumps(payload))
    assert n["status"] == "new"
    assert n["payload"] == payload
    listed = osc(api, "notification", "list")
    assert [x["notification_uuid"] for x in listed] == [n["notification_uuid"]]
    detail = osc(api, "notification", "show", n["notification_uuid"], version="1.1")
    assert detail["recovery_workflow_details"] == []

    # While the notification is new the segment is under recovery: Masakari's 409.
    out = osc_refused(api, "segment", "delete", "rack-a")
    assert "409" in out and "in-use" in out, out
