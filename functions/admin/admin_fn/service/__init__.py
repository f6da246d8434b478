"""Platform administration's rules, one module per area (audit log, users, organizations, analytics, settings)."""

SERVICE = "admin"
