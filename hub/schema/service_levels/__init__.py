"""Service levels: objective status, violations and root cause."""
