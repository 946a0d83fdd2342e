"""Core plumbing: configuration, sessions, sites, jobs, outbox, errors, logging."""
