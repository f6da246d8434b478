"""The SQL of platform administration, one module per area."""
