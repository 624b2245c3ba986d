# uWSGI entry point for the devcloud's Neutron API server.
#
# Neutron's own neutron.wsgi.api application, plus one fix: configure the
# SQLAlchemy mappers at import time. Without it the first GET /v2.0/ports of
# a fresh worker can fail with "AttributeError: Port.port_forwardings".
from sqlalchemy import orm

from neutron.wsgi.api import application  # noqa: F401

orm.configure_mappers()
