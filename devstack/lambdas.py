"""Runs the template's Lambda handlers in this process, the way the Lambda runtime would.

Each function's CodeUri and the layer's ContentUri go on sys.path (Lambda puts the code at
/var/task and layers at /opt/python); handlers are imported by their Handler string and called
with a real-shaped event and context. Invocations run on a small pool of threads: each thread is
one "execution environment" (its own event loop, its own Postgres connection via the layer).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from devstack.template import FunctionSpec, Template
from mm_common import db

Handler = Callable[[dict[str, Any], Any], Any]

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """A handler raised: carries the Lambda-style error payload."""

    def __init__(self, function: str, error: BaseException) -> None:
        super().__init__(f"{function}: {type(error).__name__}: {error}")
        self.payload = {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error),
        }


_environment = threading.local()


def _new_environment() -> None:
    # Mangum drives the ASGI app with the thread's event loop, as on the Lambda main thread.
    asyncio.set_event_loop(asyncio.new_event_loop())
    # One Postgres connection per environment, as one Lambda execution environment has.
    _environment.db_slot = db.ConnectionSlot()


def in_environment(func: Callable[[], Any]) -> Any:
    """Run ``func`` as this environment (thread) would: with its own database connection."""
    token = db.bind_connection_slot(_environment.db_slot)
    try:
        return func()
    finally:
        db.unbind_connection_slot(token)


class LambdaRuntime:
    """Imports every function of the template and invokes it by logical id or name."""

    def __init__(self, template: Template, stack_name: str, environments: int = 8) -> None:
        self.template = template
        self.stack_name = stack_name
        self.specs: dict[str, FunctionSpec] = {spec.logical_id: spec for spec in template.functions()}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(
            max_workers=environments, thread_name_prefix="lambda-env", initializer=_new_environment
        )
        for path in [*template.layer_dirs(), *(s.code_dir for s in self.specs.values())]:
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))

    def function_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def function_arn(self, logical_id: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name(logical_id)}"

    def logical_id_for(self, name_or_arn: str) -> str:
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        for logical_id in self.specs:
            if name in (logical_id, self.function_name(logical_id)):
                return logical_id
        raise KeyError(f"no function {name_or_arn!r} in the template")

    def handler(self, logical_id: str) -> Handler:
        with self._lock:
            if logical_id not in self._handlers:
                module_name, attribute = self.specs[logical_id].handler.rsplit(".", 1)
                self._handlers[logical_id] = getattr(importlib.import_module(module_name), attribute)
            return self._handlers[logical_id]

    def context(self, logical_id: str) -> LambdaContext:
        spec = self.specs[logical_id]
        return LambdaContext(
            function_name=self.function_name(logical_id),
            memory_limit_in_mb=spec.memory,
            timeout_s=spec.timeout,
            invoked_function_arn=self.function_arn(logical_id),
        )

    def invoke_here(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Invoke on the calling thread (which must be a runtime thread or own an event loop)."""
        handler = self.handler(logical_id)
        context = self.context(logical_id)
        try:
            return in_environment(lambda: handler(event, context))
        except Exception as error:
            raise FunctionError(logical_id, error) from error

    def run_in_environment(self, func: Callable[[], Any]) -> Any:
        """Run arbitrary code on one of the environments (tests use this to reach its connection)."""
        return self.pool.submit(in_environment, func).result()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Invoke synchronously on one of the execution environments."""
        return self.pool.submit(self.invoke_here, logical_id, event).result()

    async def invoke_async(self, logical_id: str, event: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.invoke_here, logical_id, event)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


_dispatch_runtimes: list[LambdaRuntime] = []


def _runtime_for(function_name: str) -> tuple[LambdaRuntime, str]:
    for runtime in _dispatch_runtimes:
        try:
            return runtime, runtime.logical_id_for(function_name)
        except KeyError:
            continue
    raise KeyError(f"no local function answers to {function_name!r}")


def install_moto_dispatch(runtime: LambdaRuntime) -> None:
    """Make moto's Docker-less Lambda backend run our handlers instead of echoing the payload.

    Step Functions tasks (lambda:invoke) and lambda.invoke calls made against the moto server
    then execute the real handler code, in process. moto is pinned: this hooks an internal API.
    """
    from moto.awslambda_simple.models import LambdaSimpleBackend

    _dispatch_runtimes.insert(0, runtime)

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        target, logical_id = _runtime_for(function_name)
        event = json.loads(body) if body else {}
        try:
            result = target.invoke(logical_id, event)
        except FunctionError as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(error.payload).encode()
        return json.dumps(result).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
