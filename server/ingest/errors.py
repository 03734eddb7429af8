"""The error of one ingest record (shared by the record checks)."""


class RecordError(ValueError):
    """A record that cannot be stored; the message is the reason given back to the sender."""
