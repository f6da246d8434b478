"""The projects function's routes, one module per resource."""
