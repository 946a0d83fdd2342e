"""Public portals: the city portal and each unit's portal (themes and submission arrive with #4)."""
