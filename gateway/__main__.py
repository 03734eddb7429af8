"""`python -m gateway --config hall.toml` (same as `hallrate gateway`)."""

from gateway.cli import main

raise SystemExit(main())
