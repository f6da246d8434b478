"""The projects function's rules: one module per resource (projects, files, versions)."""

SERVICE = "projects"
