"""Integrations with outside systems (issue #7 onwards): the national public-service portal."""
