"""Device health at the server: the gateways' snapshots (POST /api/v1/ingest/devices), the
device table with history and alerts (GET /api/v1/devices/health...). docs/api.md, "Devices"."""
