"""The admin function's HTTP routes, one module per resource."""
