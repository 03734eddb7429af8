"""Alerts to the hall's duty manager (docs/cases.md "Alerts"): a 差评, or a case's deadline
turning yellow, red or 督办, recorded once per channel (dashboard, webhook, SMS) with its
delivery status.

- ``enqueue.case_alert``: records the alerts of one event in the caller's transaction;
- ``delivery``: sends pending webhook and SMS alerts (in the server process and
  ``hallrate alerts deliver``);
- ``routes_api``: ``/api/v1/alerts`` (dashboard notifications) and ``/api/v1/alert-targets``.
"""
