"""Working calendar: holidays, days off, make-up days and office hours."""
