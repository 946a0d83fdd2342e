"""review_views (issue #5)."""

BLUEPRINTS: tuple = ()
