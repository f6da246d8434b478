"""The auth function's HTTP routes, one module per resource (app.py includes them in order)."""
