"""SQS pollers and schedules: what Lambda's event source mappings and EventBridge do in AWS."""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from devstack.aws import client
from devstack.lambdas import ACCOUNT_ID, REGION, FunctionError, LambdaRuntime
from devstack.template import QueueSubscription, Schedule


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers for these received messages."""
    records = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


class QueuePoller:
    """Receives from one queue and invokes one function, honouring partial batch failures.

    A message the function did not handle stays in the queue: it becomes visible again after
    ``retry_delay_s`` (instead of the queue's long visibility timeout, to keep dev loops short)
    and, once received more than the redrive policy's maxReceiveCount, SQS moves it to the DLQ.
    """

    def __init__(
        self,
        runtime: LambdaRuntime,
        function: str,
        subscription: QueueSubscription,
        queue_url: str,
        queue_arn: str,
        endpoint: str,
        retry_delay_s: int = 1,
    ) -> None:
        self.runtime = runtime
        self.function = function
        self.subscription = subscription
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.sqs = client("sqs", endpoint)
        self.retry_delay_s = retry_delay_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poll-{function}", daemon=True)

    def poll_once(self, wait_s: int = 0) -> int:
        """Receive one batch and process it; return how many messages were received."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.subscription.batch_size, 10),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        failed_ids: set[str]
        try:
            result = self.runtime.invoke(self.function, sqs_event(received, self.queue_arn))
        except FunctionError as error:
            print(f"[sqs] {self.function} failed on a batch of {len(received)}: {error}")
            failed_ids = {m["MessageId"] for m in received}
        else:
            failed_ids = set()
            if self.subscription.report_batch_item_failures and isinstance(result, dict):
                failed_ids = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
        for message in received:
            if message["MessageId"] in failed_ids:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_s,
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(received)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_s=1)
            except Exception as error:  # noqa: BLE001 - a poller outlives one bad batch
                print(f"[sqs] poller for {self.function} error: {error}")
                self._stop.wait(1)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_period_s(expression: str) -> int:
    """Seconds between runs of a rate() expression; cron() counts as hourly locally."""
    match = _RATE.match(expression.strip())
    if match:
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]
    if expression.strip().startswith("cron("):
        return 3600
    raise ValueError(f"unsupported schedule expression {expression!r}")


def scheduled_event(rule_name: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


class Scheduler:
    """Fires each scheduled function on its period, shortened to at most ``max_period_s``."""

    def __init__(self, runtime: LambdaRuntime, schedules: dict[str, list[Schedule]], max_period_s: int) -> None:
        self.runtime = runtime
        self.schedules = schedules
        self.max_period_s = max_period_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_now(self, function: str, schedule: str | None = None) -> Any:
        """Fire ``function``'s schedule named ``schedule`` (default: its first) now, as EventBridge would."""
        for candidate in self.schedules.get(function, []):
            if schedule is None or candidate.name == schedule:
                return self.runtime.invoke(function, self._event(function, candidate))
        if schedule is not None:
            raise KeyError(f"{function} has no schedule {schedule!r}")
        return self.runtime.invoke(function, scheduled_event(f"{function}-manual"))

    @staticmethod
    def _event(function: str, schedule: Schedule) -> Any:
        """The schedule's constant Input when it has one (EventBridge sends that instead of its event)."""
        return schedule.input if schedule.input is not None else scheduled_event(f"{function}-{schedule.name}")

    def _loop(self, function: str, schedule: Schedule) -> None:
        period = min(schedule_period_s(schedule.expression), self.max_period_s)
        while not self._stop.wait(period):
            try:
                result = self.runtime.invoke(function, self._event(function, schedule))
                print(f"[schedule] {function}: {json.dumps(result, default=str)}")
            except FunctionError as error:
                print(f"[schedule] {function} failed: {error}")

    def start(self) -> None:
        for function, schedules in self.schedules.items():
            for schedule in schedules:
                thread = threading.Thread(target=self._loop, args=(function, schedule), daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
