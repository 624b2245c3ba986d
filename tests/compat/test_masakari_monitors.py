"""masakari-monitors' processmonitor (PyPI masakari-monitors) posting to lazarus.

The monitor watches a process that never runs, fails to restart it, and reports it the
way it reports a dead nova-compute: a PROCESS notification for this machine's hostname,
sent through openstacksdk with `[api] auth_type = none`. lazarus must accept it (202,
status new) exactly as Masakari would.

Needs `pip install masakari-monitors==22.0.0` in the same environment; skipped otherwise.
"""

import pathlib
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import pytest
from sdk import connect

MONITOR = pathlib.Path(sys.executable).parent / "masakari-processmonitor"


@pytest.mark.skipif(not MONITOR.exists(), reason="masakari-monitors is not installed")
def test_processmonitor_reports_a_dead_nova_compute_and_lazarus_accepts_it(api):
    ha = connect(f"{api}/v1").instance_ha
    hostname = socket.gethostname()
    seg = ha.create_segment(name="rack", recovery_method="auto", service_type="COMPUTE")
    host = ha.create_host(
        segment=seg.uuid, name=hostname, type="COMPUTE", control_attributes="SSH"
    )

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        # A nova-compute path no process has, whose (re)start always fails.
        process = f"/nonexistent/{uuid.uuid4().hex}/bin/nova-compute"
        (tmp / "process_list.yaml").write_text(
            textwrap.dedent(
                f"""\
                -
                    process_name: {process}
                    start_command: /bin/false
                    pre_start_command:
                    post_start_command:
                    restart_command: /bin/false
                    pre_restart_command:
                    post_restart_command:
                    run_as_root: False
                """
            )
        )
        (tmp / "masakarimonitors.conf").write_text(
            textwrap.dedent(
                f"""\
                [DEFAULT]
                use_stderr = true

                [api]
                auth_type = none
                endpoint = {api}/v1
                api_interface = public

                [process]
                check_interval = 1
                restart_retries = 1
                restart_interval = 1
                api_retry_max = 3
                api_retry_interval = 1
                process_list_path = {tmp / "process_list.yaml"}
                """
            )
        )
        log = open(tmp / "monitor.log", "w")
        monitor = subprocess.Popen(
            [str(MONITOR), "--config-file", str(tmp / "masakarimonitors.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            found = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not found:
                found = list(ha.notifications(type="PROCESS"))
                if monitor.poll() is not None:
                    break
                time.sleep(0.5)
        finally:
            monitor.terminate()
            try:
                monitor.wait(timeout=10)
            except subprocess.TimeoutExpired:
                monitor.kill()
                monitor.wait()
            log.close()
        output = (tmp / "monitor.log").read_text()

    assert len(found) == 1, f"no notification from the monitor; its log:\n{output[-4000:]}"
    n = found[0]
    assert n.status == "new"
    assert n.source_host_uuid == host.uuid
    assert n.payload == {"event": "STOPPED", "process_name": "nova-compute"}
    assert ha.get_notification(n.notification_uuid).type == "PROCESS"
