"""Reporting (issue #7): the platform-level store of dossier facts, the periodic TTHC report
(06 family), officials' and units' reports, dashboards, the public statistics page and exports.

City-wide reports read only the platform tables of ``app.reports.models``; they never open
tenant schemas per request. Tenants feed the store through the outbox (``app.reports.feed``).
"""
