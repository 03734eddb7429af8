"""hallrate gateway."""
