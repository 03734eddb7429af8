"""TLS to the broker: the ssl.SSLContext of the device config (docs/provisioning.md, TLS).

Imported by the hal's open_connection only when conf["broker_tls"] is true (connect()), and
dropped from sys.modules at each connect: a device without TLS never loads it, one with TLS keeps
only the context (hal._ssl).
Keys: tls_ca (the hall CA, DER; required: the server is always verified), tls_cert and tls_key
(the device's client certificate and key, DER; both or neither). A relative path is taken from
conf["root"] when the config has one (the unix port's device directory), else as it is.
"""

import asyncio
import ssl
import sys


def _path(conf, key):
    p = conf.get(key)
    root = conf.get("root")
    if p and root and not p.startswith("/"):
        return root.rstrip("/") + "/" + p
    return p


def context(conf):
    """A verifying client SSLContext; ValueError when the config cannot give one."""
    ca = _path(conf, "tls_ca")
    if not ca:
        raise ValueError("broker_tls needs tls_ca")
    cert = _path(conf, "tls_cert")
    key = _path(conf, "tls_key")
    if bool(cert) != bool(key):
        raise ValueError("tls_cert and tls_key go together")
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.verify_mode = ssl.CERT_REQUIRED  # this port's default is CERT_NONE: verify, always
    c.load_verify_locations(cafile=ca)
    if cert:
        c.load_cert_chain(cert, key)
    return c


async def connect(hal, host, port):
    """The hal's TLS connection to the broker: the context is made once and kept on the hal."""
    sys.modules.pop("link_tls", None)  # this code is heap only while it runs
    ctx = getattr(hal, "_ssl", None)
    if ctx is None:
        ctx = hal._ssl = context(hal.conf)
    name = hal.conf.get("tls_server_name") or host
    return await asyncio.open_connection(host, port, ssl=ctx, server_hostname=name)
