"""Device health at the gateway (docs/gateway.md, "Device health"): the heartbeat's health
fields in the journal, alarms per device (jam, tamper, lid open, low heap, rolled back, self-test
failed, offline in opening hours), per-device gauges on /metrics, and snapshots pushed to the
server's POST /api/v1/ingest/devices."""
