"""hallrate server."""
