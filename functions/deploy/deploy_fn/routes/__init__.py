"""The deploy function's routes."""
