"""Printed and exported documents: the Circular 01/2018 forms (PDF) and the logbook (Excel)."""
