"""Portal themes: which theme a unit's portal wears and the design tokens it overrides (issue #4)."""
