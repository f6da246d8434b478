"""Shared code of every MoreMinimore Lambda function (the common layer)."""

__version__ = "0.1.0"
