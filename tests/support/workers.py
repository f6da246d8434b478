"""Running a queue-triggered function of the test stack the way its event source mapping would, on demand."""

from __future__ import annotations

from devstack.stack import LocalStack


def run_until_empty(stack: LocalStack, function: str) -> int:
    """Deliver ``function``'s queue to it, batch after batch, until the queue is empty; how many batches."""
    (poller,) = stack.pollers[function]
    batches = 0
    while poller.poll_once():
        batches += 1
    return batches
