"""Dossiers (hồ sơ): intake, handling steps, pauses, forms and files."""
