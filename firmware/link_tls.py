"""TLS to the broker: the ssl.SSLContext of the device config (docs/provisioning.md, TLS).

Imported by the hal's open_connection only when conf["broker_tls"] is true, and dropped from
sys.modules after: a device without TLS never loads it, one with TLS keeps only the context.
Keys: tls_ca (the hall CA, DER; required: the server is always verified), tls_cert and tls_key
(the device's client certificate and key, DER; both or neither). A relative path is taken from
conf["root"] when the config has one (the unix port's device directory), else as it is.
"""

import ssl


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
