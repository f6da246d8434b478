"""Powertools Logger, Tracer and Metrics, one set per function (service)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "MoreMinimore"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Observability:
    logger: Logger
    tracer: Tracer
    metrics: Metrics


@cache
def for_service(service: str) -> Observability:
    # Explicit service names (not POWERTOOLS_SERVICE_NAME) because the local stack runs every
    # function in one process, where a per-function environment variable cannot differ.
    return Observability(
        logger=Logger(service=service),
        tracer=Tracer(service=service),
        metrics=Metrics(namespace=METRICS_NAMESPACE, service=service),
    )


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
                wrapped = for_service(service).tracer.capture_method(fn)
            return wrapped(*args, **kwargs)

        return cast(F, call)

    return decorate
