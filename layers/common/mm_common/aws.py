"""boto3 clients, created once per execution environment and reused across invocations.

No endpoint or credentials here: boto3 takes them from the environment (the Lambda role in
AWS; AWS_ENDPOINT_URL and dummy keys in the local stack).

boto3 is imported on the first ``client()`` call, not with this module: most requests never
touch S3, KMS, SQS or SES, and importing boto3 costs a cold start about 0.2 s.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]
