"""request_views (issue #5)."""

BLUEPRINTS: tuple = ()
