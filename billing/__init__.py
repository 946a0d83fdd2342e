"""Usage metering, lease contracts and invoices (issue #6)."""
