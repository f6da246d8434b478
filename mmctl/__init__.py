"""Operators' command line: migrations, admin bootstrap, the OpenAPI document."""
