"""The design package's error: what a person sent (or a stored document holds) cannot be used."""

from __future__ import annotations


class DesignSystemError(ValueError):
    """An edit or a document that cannot be accepted; the message says what to change."""
