"""hallrate simulator."""
