"""Helpers shared by the compatibility tests."""

import openstack


def connect(endpoint: str) -> openstack.connection.Connection:
    """An openstacksdk connection to lazarus with no authentication.

    The endpoint override stands in for the Keystone catalog entry of `instance-ha`;
    `auth_type="none"` matches the server's `auth = none`.
    """
    return openstack.connect(
        auth_type="none",
        instance_ha_endpoint_override=endpoint,
        load_yaml_config=False,
        load_envvars=False,
    )
