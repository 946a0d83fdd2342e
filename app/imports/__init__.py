"""Import of historical dossiers from a unit's previous system (issue #7)."""
