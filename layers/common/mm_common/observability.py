"""Powertools Logger, Tracer and Metrics, one set per function (service).

The Tracer is made on first use, not at import: creating it imports the X-Ray SDK and patches
boto3, botocore, httpx and psycopg (about 0.3 s), which a cold start's import phase does not
need. Handlers wrapped with :func:`traced_handler` create it when the first invocation runs,
so tracing stays on for every invocation in AWS.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

METRICS_NAMESPACE = "MoreMinimore"
F = TypeVar("F", bound=Callable[..., Any])


class Observability:
    """A service's Logger and Metrics, and its Tracer once something asks for it."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.logger = Logger(service=service)
        self.metrics = Metrics(namespace=METRICS_NAMESPACE, service=service)
        self._tracer: Tracer | None = None
        self._tracer_lock = threading.Lock()

    @property
    def tracer(self) -> Tracer:
        if self._tracer is None:
            with self._tracer_lock:  # the local stack runs invocations on several threads
                if self._tracer is None:
                    from aws_lambda_powertools import Tracer

                    self._tracer = Tracer(service=self.service)
        return self._tracer


@cache
def for_service(service: str) -> Observability:
    # Explicit service names (not POWERTOOLS_SERVICE_NAME) because the local stack runs every
    # function in one process, where a per-function environment variable cannot differ.
    return Observability(service)


def count(service: str, name: str, value: float = 1) -> None:
    """A business metric (sign-ups, projects created, ...), published with the invocation's metrics."""
    from aws_lambda_powertools.metrics import MetricUnit

    for_service(service).metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def traced(service: str) -> Callable[[F], F]:
    """Trace a service function as a subsegment of the invocation (the tracer is made on first call)."""

    def decorate(fn: F) -> F:
        wrapped: Callable[..., Any] | None = None

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal wrapped
            if wrapped is None:
                # Neither the return value (file contents, secrets) nor the exception (a client's
                # 404 is not an error; a database error's message can quote a row) goes to the
                # trace from here: errors are logged once, without values, by the app.
                tracing = for_service(service).tracer.capture_method(capture_response=False, capture_error=False)
                wrapped = tracing(fn)
                # capture_method also logs every exception with its message and traceback.
                logging.getLogger("aws_lambda_powertools.tracing.tracer").setLevel(logging.CRITICAL)
            return wrapped(*args, **kwargs)

        return cast(F, call)

    return decorate


def traced_handler(service: str) -> Callable[[F], F]:
    """``Tracer.capture_lambda_handler`` for a Lambda entry point, with the Tracer made (and the
    X-Ray SDK imported) when the first invocation runs rather than at import. That invocation is
    still traced whole and annotated as the cold start."""

    def decorate(handler: F) -> F:
        wrapped: Callable[..., Any] | None = None

        @functools.wraps(handler)
        def call(event: Any, context: Any) -> Any:
            nonlocal wrapped
            if wrapped is None:
                wrapped = for_service(service).tracer.capture_lambda_handler(handler, capture_response=False)
            return wrapped(event, context)

        return cast(F, call)

    return decorate
