"""The AI function's routers, one per resource, included by app.py in this order."""
