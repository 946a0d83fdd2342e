"""Messages sent to applicants (email, SMS, Zalo)."""
