"""The lobby screen (大屏): a read-only, no-login page of one hall's satisfaction for the screen
in the hall (docs/lobby.md)."""
