"""The Hai Phong demo: units, catalogues (``data``), and the seeding that writes them (``seed``)."""
