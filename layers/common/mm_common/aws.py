"""boto3 clients, created once per execution environment and reused across invocations.

No endpoint or credentials here: boto3 takes them from the environment (the Lambda role in
AWS; AWS_ENDPOINT_URL and dummy keys in the local stack).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]
