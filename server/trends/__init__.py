"""Trends and the hour-of-day heat map (GET /api/v1/trends, /api/v1/heatmap; docs/api.md
"Trends and heat map"): routes.py (thin), buckets.py (pure bucketing), service.py (queries)."""
