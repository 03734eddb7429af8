"""SMS evaluation channel: provider adapters, outbox, reply intake (issue #13)."""
