"""Internal ISO 9001 processes (quy trình nội bộ) as versioned step graphs."""
