"""openstacksdk's instance_ha proxy (PyPI openstacksdk) against lazarus's Masakari API.

Run:  .venv-compat/bin/python -m pytest tests/compat -q
(after: python3 -m venv .venv-compat && .venv-compat/bin/pip install openstacksdk==4.22.0 pytest)

The SDK talks to the API exactly as it talks to Masakari: endpoint from an override
(as if from the Keystone catalog), no authentication (the server runs with auth none),
microversions negotiated from the /v1 version document.
"""

import datetime
import uuid

import pytest
from openstack import exceptions
from sdk import connect


@pytest.fixture()
def ha(api):
    return connect(f"{api}/v1").instance_ha


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def test_segments_are_created_listed_updated_and_deleted(ha):
    seg = ha.create_segment(name="rack-a", recovery_method="auto", service_type="COMPUTE")
    assert uuid.UUID(seg.uuid)
    assert seg.name == "rack-a"
    assert seg.recovery_method == "auto"
    assert seg.is_enabled is True

    other = ha.create_segment(
        name="rack-b", recovery_method="reserved_host", service_type="COMPUTE",
        description="spare rack",
    )
    names = [s.name for s in ha.segments(recovery_method="auto")]
    assert names == ["rack-a"]
    assert {s.name for s in ha.segments()} == {"rack-a", "rack-b"}

    updated = ha.update_segment(seg.uuid, name="rack-a2", is_enabled=False)
    assert updated.name == "rack-a2"
    fetched = ha.get_segment(seg.uuid)
    assert fetched.name == "rack-a2"
    assert fetched.is_enabled is False
    assert [s.name for s in ha.segments(is_enabled=False)] == ["rack-a2"]

    with pytest.raises(exceptions.ConflictException):
        ha.create_segment(name="rack-b", recovery_method="auto", service_type="COMPUTE")
    with pytest.raises(exceptions.BadRequestException):
        ha.create_segment(name="rack-c", recovery_method="sideways", service_type="COMPUTE")

    ha.delete_segment(seg.uuid)
    ha.delete_segment(other.uuid, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        ha.get_segment(seg.uuid)
    assert list(ha.segments()) == []


def test_segment_lists_page_through_every_segment(ha):
    for i in range(5):
        ha.create_segment(name=f"s{i}", recovery_method="auto", service_type="COMPUTE")
    # The SDK pages with limit and a marker taken from the last item.
    names = [s.name for s in ha.segments(limit=2, sort_key="name", sort_dir="asc")]
    assert names == ["s0", "s1", "s2", "s3", "s4"]


def test_hosts_are_created_listed_updated_and_deleted(ha):
    seg = ha.create_segment(name="rack", recovery_method="auto", service_type="COMPUTE")
    host = ha.create_host(
        segment=seg.uuid, name="compute-1", type="COMPUTE", control_attributes="SSH"
    )
    assert host.name == "compute-1"
    assert host.failover_segment_id == seg.uuid
    assert host.on_maintenance is False
    assert host.reserved is False
    ha.create_host(
        segment=seg.uuid, name="compute-2", type="COMPUTE", control_attributes="SSH",
        reserved=True,
    )

    listed = [h.name for h in ha.hosts(seg.uuid, failover_segment_id=seg.uuid, type="COMPUTE")]
    assert sorted(listed) == ["compute-1", "compute-2"]
    assert [h.name for h in ha.hosts(seg.uuid, reserved=True)] == ["compute-2"]

    updated = ha.update_host(host.uuid, segment=seg.uuid, on_maintenance="True")
    assert updated.on_maintenance is True
    fetched = ha.get_host(host.uuid, seg.uuid)
    assert fetched.on_maintenance is True
    assert fetched.control_attributes == "SSH"

    other = ha.create_segment(name="rack-2", recovery_method="auto", service_type="COMPUTE")
    with pytest.raises(exceptions.ConflictException):
        ha.create_host(
            segment=other.uuid, name="compute-1", type="COMPUTE", control_attributes="SSH"
        )
    with pytest.raises(exceptions.NotFoundException):
        ha.get_host(host.uuid, other.uuid)

    ha.delete_host(host.uuid, segment=seg.uuid, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        ha.get_host(host.uuid, seg.uuid)
    assert [h.name for h in ha.hosts(seg.uuid)] == ["compute-2"]


def test_notifications_are_posted_and_read(ha):
    seg = ha.create_segment(name="rack", recovery_method="auto", service_type="COMPUTE")
    host = ha.create_host(
        segment=seg.uuid, name="compute-1", type="COMPUTE", control_attributes="SSH"
    )
    payload = {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}
    n = ha.create_notification(
        type="COMPUTE_HOST", hostname="compute-1", generated_time=now(), payload=payload
    )
    assert n.status == "new"
    assert n.source_host_uuid == host.uuid
    assert n.payload == payload
    assert uuid.UUID(n.notification_uuid)

    fetched = ha.get_notification(n.notification_uuid)
    assert fetched.type == "COMPUTE_HOST"
    assert fetched.status == "new"
    assert fetched.payload == payload

    listed = list(ha.notifications(status="new", type="COMPUTE_HOST"))
    assert [x.notification_uuid for x in listed] == [n.notification_uuid]
    assert list(ha.notifications(status="finished")) == []
    assert [x.notification_uuid for x in ha.notifications(source_host_uuid=host.uuid)] == [
        n.notification_uuid
    ]

    # The same failure reported again while the first is new: Masakari's 409.
    with pytest.raises(exceptions.ConflictException):
        ha.create_notification(
            type="COMPUTE_HOST", hostname="compute-1", generated_time=now(), payload=payload
        )
    # A host no segment has: 400.
    with pytest.raises(exceptions.BadRequestException):
        ha.create_notification(
            type="COMPUTE_HOST", hostname="nowhere", generated_time=now(), payload=payload
        )
    # A payload the COMPUTE_HOST schema refuses: 400.
    with pytest.raises(exceptions.BadRequestException):
        ha.create_notification(
            type="COMPUTE_HOST", hostname="compute-1", generated_time=now(),
            payload={"event": "EXPLODED"},
        )
    # A process notification, as masakari-monitors' processmonitor sends it.
    p = ha.create_notification(
        type="PROCESS", hostname="compute-1", generated_time=now(),
        payload={"process_name": "nova-compute", "event": "STOPPED"},
    )
    assert p.status == "new"
    # A host under recovery cannot be removed.
    with pytest.raises(exceptions.ConflictException):
        ha.delete_host(host.uuid, segment=seg.uuid, ignore_missing=False)
    # Host notifications have (so far no) vm moves; the list exists.
    assert list(ha.vmoves(n.notification_uuid)) == []


def test_notifications_from_a_host_on_maintenance_are_refused(ha):
    seg = ha.create_segment(name="rack", recovery_method="auto", service_type="COMPUTE")
    ha.create_host(
        segment=seg.uuid, name="compute-9", type="COMPUTE", control_attributes="SSH",
        on_maintenance=True,
    )
    with pytest.raises(exceptions.ConflictException):
        ha.create_notification(
            type="COMPUTE_HOST", hostname="compute-9", generated_time=now(),
            payload={"event": "STOPPED", "host_status": "NORMAL"},
        )


def test_an_endpoint_with_a_project_id_serves_the_same_api(api):
    plain = connect(f"{api}/v1").instance_ha
    with_project = connect(f"{api}/v1/{uuid.uuid4().hex}").instance_ha
    seg = with_project.create_segment(
        name="rack", recovery_method="auto", service_type="COMPUTE"
    )
    assert plain.get_segment(seg.uuid).name == "rack"
    assert [s.uuid for s in with_project.segments()] == [seg.uuid]
