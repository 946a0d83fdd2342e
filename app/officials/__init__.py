"""Divisions (phòng ban), officials' roles in them, and unit settings."""
