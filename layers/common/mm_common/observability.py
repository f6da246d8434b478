"""Powertools Logger, Tracer and Metrics, one set per function (service)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "MoreMinimore"


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
