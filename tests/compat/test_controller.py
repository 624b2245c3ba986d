"""The Masakari clients against the real `lazarus controller` on the devcloud.

Unlike the other compatibility tests (the API alone, with a no-op sink), these start
`lazarus controller` with auth none against the devcloud (`bin/devcloud up`, then
`eval "$(bin/devcloud env)"`): host names are checked against Nova's nova-compute
services, and a PROCESS notification is acted on — lazarus disables the compute in
Nova, then re-enables it when the process is reported STARTED.

Without the devcloud environment these tests fail (they never skip silently).
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import uuid

import pytest
from openstack import exceptions
from sdk import connect

REPO = pathlib.Path(__file__).resolve().parents[2]
MONITOR = pathlib.Path(sys.executable).parent / "masakari-processmonitor"
REASON_PREFIX = "lazarus: "


def _devcloud_env() -> None:
    """Fails loudly unless `bin/devcloud env` has been evaluated."""
    config = os.environ.get("OS_CLIENT_CONFIG_FILE")
    if not config or not pathlib.Path(config).exists():
        pytest.fail(
            "the devcloud environment is missing (OS_CLIENT_CONFIG_FILE); run "
            "`bin/devcloud up` and `eval \"$(bin/devcloud env)\"` before tests/compat/run.sh"
        )


def devcloud_openstack(*args: str) -> str:
    """Runs `bin/devcloud openstack ARGS` and returns its output."""
    out = subprocess.run(
        [str(REPO / "bin/devcloud"), "openstack", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, f"bin/devcloud openstack {args} failed:\n{out.stderr}"
    return out.stdout


def compute_services() -> dict:
    """Nova's nova-compute services by host."""
    rows = json.loads(
        devcloud_openstack(
            "compute", "service", "list", "--service", "nova-compute", "-f", "json", "--long"
        )
    )
    return {r["Host"]: r for r in rows}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def controller():
    """Builds `lazarus` and runs `lazarus controller` against the devcloud; yields its URL."""
    _devcloud_env()
    subprocess.run(["cargo", "build", "--quiet", "-p", "lazarus"], cwd=REPO, check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "lazarus"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        config = tmp / "lazarus.toml"
        config.write_text(
            textwrap.dedent(
                f"""\
                [api]
                listen = "127.0.0.1:{port}"
                auth = "none"

                [store]
                path = "{tmp / 'lazarus.sqlite'}"

                [openstack]
                cloud = "devcloud-admin"

                [engine.workflow]
                return_retry = "5s"
                return_grace = "20s"
                """
            )
        )
        log = open(tmp / "controller.log", "w")
        proc = subprocess.Popen(
            [str(binary), "controller", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/ready", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "lazarus controller did not become ready; its log:\n"
                        + (tmp / "controller.log").read_text()[-4000:]
                    )
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


@pytest.fixture()
def devcloud_lock():
    """The lock the devcloud suites take before changing a compute (a directory)."""
    lock = REPO / ".devcloud" / "contract-tests.lock"
    deadline = time.monotonic() + 600
    while True:
        try:
            lock.mkdir()
            (lock / "owner").write_text(f"{os.getpid()} compat test_controller")
            break
        except FileExistsError:
            try:
                pid = (lock / "owner").read_text().split(" ")[0]
            except OSError:
                pid = ""
            age = time.time() - lock.stat().st_mtime if lock.exists() else 0
            if (pid and not pathlib.Path(f"/proc/{pid}").exists()) or (not pid and age > 10):
                subprocess.run(["rm", "-rf", str(lock)], check=False)
                continue
            if time.monotonic() > deadline:
                pytest.fail(f"waited 10 min for the devcloud test lock at {lock}")
            time.sleep(0.5)
    try:
        yield
    finally:
        subprocess.run(["rm", "-rf", str(lock)], check=False)


@pytest.fixture()
def ha(controller):
    return connect(f"{controller}/v1").instance_ha


@pytest.fixture()
def segment(ha):
    """A fresh segment, deleted (with its hosts) afterwards."""
    seg = ha.create_segment(
        name=f"compat-{uuid.uuid4().hex[:8]}", recovery_method="auto", service_type="COMPUTE"
    )
    try:
        yield seg
    finally:
        if seg.uuid in [s.uuid for s in ha.segments()]:
            for h in list(ha.hosts(seg.uuid)):
                ha.delete_host(h.uuid, segment_id=seg.uuid, ignore_missing=True)
            ha.delete_segment(seg.uuid, ignore_missing=True)


def test_the_sdk_manages_segments_and_real_computes_on_the_controller(ha, segment):
    computes = sorted(compute_services())
    assert computes, "the devcloud has no nova-compute service"
    name = computes[0]

    with pytest.raises(exceptions.BadRequestException):
        ha.create_host(
            segment=segment.uuid, name=f"no-such-compute-{uuid.uuid4().hex[:6]}",
            type="COMPUTE", control_attributes="SSH",
        )

    host = ha.create_host(
        segment=segment.uuid, name=name, type="COMPUTE", control_attributes="SSH"
    )
    assert host.name == name
    assert host.failover_segment_id == segment.uuid
    updated = ha.update_host(host.uuid, segment_id=segment.uuid, reserved=True)
    assert updated.reserved is True
    assert [h.name for h in ha.hosts(segment.uuid)] == [name]
    assert ha.get_host(host.uuid, segment_id=segment.uuid).reserved is True

    seg = ha.update_segment(segment.uuid, description="compat run")
    assert seg.description == "compat run"
    assert segment.uuid in [s.uuid for s in ha.segments()]
    assert ha.get_segment(segment.uuid).description == "compat run"

    # STARTED of a compute host is never acted on (as Masakari): safe on a live cloud.
    n = ha.create_notification(
        type="COMPUTE_HOST", hostname=name,
        generated_time=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        payload={"event": "STARTED", "host_status": "NORMAL", "cluster_status": "ONLINE"},
    )
    got = ha.get_notification(n.notification_uuid)
    assert got.source_host_uuid == host.uuid
    assert got.type == "COMPUTE_HOST"
    assert got.payload["event"] == "STARTED"
    assert n.notification_uuid in [x.notification_uuid for x in ha.notifications()]
    # The controller decides on it (STARTED needs nothing, as in Masakari); until then
    # the host is in use and cannot be deleted.
    done = _wait("the notification to be decided", lambda: _final(ha, n.notification_uuid))
    assert done.status == "ignored"

    ha.delete_host(host.uuid, segment_id=segment.uuid, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        ha.get_host(host.uuid, segment_id=segment.uuid)
    ha.delete_segment(segment.uuid, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        ha.get_segment(segment.uuid)


def _wait(what: str, check, timeout: float = 90):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}")


def _engine_hosts(url: str) -> set:
    with urllib.request.urlopen(f"{url}/v1/lazarus/hosts", timeout=5) as r:
        hosts = json.load(r)["hosts"]
    return {h.get("name") or h.get("host") for h in hosts}


def _final(ha, uuid_: str):
    n = ha.get_notification(uuid_)
    return n if n.status not in ("new", "running") else None


@pytest.mark.skipif(not MONITOR.exists(), reason="masakari-monitors is not installed")
def test_processmonitor_stops_a_compute_and_the_controller_disables_then_reenables_it(
    controller, ha, segment, devcloud_lock
):
    services = compute_services()
    name = sorted(services)[-1]
    assert services[name]["Status"] == "enabled", f"{name} is not enabled before the test"
    ha.create_host(segment=segment.uuid, name=name, type="COMPUTE", control_attributes="SSH")
    # The engine learns of a new host from its next poll of the cloud: wait until it
    # protects it (GET /v1/lazarus/hosts is the engine's own view).
    _wait(f"the engine to protect {name}", lambda: name in _engine_hosts(controller))

    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
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
                    endpoint = {controller}/v1
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
            # processmonitor reports socket.gethostname() and has no option for it:
            # run it with the hostname of the devcloud compute it stands for.
            launcher = (
                "import socket, sys; host = sys.argv.pop(1); socket.gethostname = lambda: host; "
                "from masakarimonitors.cmd.processmonitor import main; sys.exit(main())"
            )
            log = open(tmp / "monitor.log", "w")
            monitor = subprocess.Popen(
                [sys.executable, "-c", launcher, name,
                 "--config-file", str(tmp / "masakarimonitors.conf")],
                stdout=log, stderr=subprocess.STDOUT,
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
        assert found, f"no notification from the monitor; its log:\n{output[:6000]}"
        stopped = found[0]
        assert stopped.payload == {"event": "STOPPED", "process_name": "nova-compute"}

        done = _wait("the STOPPED notification to finish", lambda: _final(ha, stopped.notification_uuid))
        assert done.status == "finished", f"notification ended {done.status}: {done.to_dict()}"
        disabled = _wait(
            f"{name} to be disabled by lazarus",
            lambda: (s := compute_services()[name])["Status"] == "disabled" and s,
        )
        assert (disabled["Disabled Reason"] or "").startswith(REASON_PREFIX), disabled
        print(f"nova-compute on {name}: disabled, reason {disabled['Disabled Reason']!r}")

        started = ha.create_notification(
            type="PROCESS", hostname=name,
            generated_time=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            payload={"event": "STARTED", "process_name": "nova-compute"},
        )
        done = _wait("the STARTED notification to finish", lambda: _final(ha, started.notification_uuid))
        assert done.status == "finished", f"notification ended {done.status}: {done.to_dict()}"
        _wait(
            f"{name} to be enabled again by lazarus",
            lambda: compute_services()[name]["Status"] == "enabled",
        )
    finally:
        s = compute_services().get(name)
        if s and s["Status"] == "disabled" and (s["Disabled Reason"] or "").startswith(REASON_PREFIX):
            devcloud_openstack("compute", "service", "set", "--enable", name, "nova-compute")
