"""Public postal service (BCCI) pickups and result deliveries."""
