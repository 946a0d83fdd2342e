"""Tenant-local append-only audit trail."""
