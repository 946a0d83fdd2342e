"""Catalogue of administrative procedures (thủ tục hành chính) as configured by one unit."""
