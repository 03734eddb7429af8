"""TLS to the hall's broker: the hall CA and its certificates (certs.py), the gateway's paho
TLS settings (client.py). See docs/provisioning.md, "TLS"."""
