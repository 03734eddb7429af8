"""The 差评 list (GET /api/v1/bad-ratings, docs/api.md "差评 list"): the rows of the monthly 差评
report (docs/reports.md), from the same query (service.py)."""
