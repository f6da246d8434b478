"""The local stack's AWS machinery, on a small probe template: queues with partial batch
failures and a DLQ, state machines running real handlers, schedules, route precedence."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.aws import AwsProvisioner, client
from devstack.gateway import RouteTable
from devstack.lambdas import LambdaRuntime, install_moto_dispatch
from devstack.stack import LocalStack
from devstack.template import HttpRoute, Resolver, Template
from devstack.workers import QueuePoller, Scheduler, schedule_period_s
from mm_common.config import DEFAULT_PLATFORM_KEY_NAMES, get_settings

PROBE_TEMPLATE = Path(__file__).parent.parent / "fixtures" / "probe_stack" / "template.yaml"


@dataclass
class Probe:
    runtime: LambdaRuntime
    provisioner: AwsProvisioner
    endpoint: str
    calls: list[tuple[str, Any]]

    def queue(self, logical_id: str) -> str:
        return self.provisioner.out.refs[logical_id]


@pytest.fixture(scope="module")
def probe(stack: LocalStack) -> Iterator[Probe]:
    assert stack.moto is not None
    template = Template.load(PROBE_TEMPLATE)
    runtime = LambdaRuntime(template, stack_name="probe", environments=2)
    install_moto_dispatch(runtime)
    provisioner = AwsProvisioner(template, stack.moto.endpoint, "probe", {}, runtime)
    provisioner.provision()
    import probe_fn.app

    yield Probe(runtime, provisioner, stack.moto.endpoint, probe_fn.app.CALLS)
    runtime.close()


def _poller(probe: Probe) -> QueuePoller:
    spec = probe.runtime.specs["ProbeWorkerFunction"]
    return QueuePoller(
        probe.runtime,
        "ProbeWorkerFunction",
        spec.queues[0],
        queue_url=probe.queue("ProbeQueue"),
        queue_arn=probe.provisioner.out.attributes[("ProbeQueue", "Arn")],
        endpoint=probe.endpoint,
        retry_delay_s=0,  # failed messages are visible again at once: no waiting in tests
    )


def _queue_depth(probe: Probe, logical_id: str) -> int:
    attributes = client("sqs", probe.endpoint).get_queue_attributes(
        QueueUrl=probe.queue(logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_queue_resources_come_from_the_template(probe: Probe) -> None:
    attributes = client("sqs", probe.endpoint).get_queue_attributes(
        QueueUrl=probe.queue("ProbeQueue"), AttributeNames=["All"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 2
    assert redrive["deadLetterTargetArn"] == probe.provisioner.out.attributes[("ProbeDeadLetterQueue", "Arn")]
    assert attributes["VisibilityTimeout"] == "30"


def test_poller_honours_partial_batch_failures_and_the_dead_letter_queue(probe: Probe) -> None:
    sqs = client("sqs", probe.endpoint)
    for body in ("one", "please fail", "two"):
        sqs.send_message(QueueUrl=probe.queue("ProbeQueue"), MessageBody=body)
    poller = _poller(probe)
    probe.calls.clear()

    assert poller.poll_once() == 3
    assert sorted(body for kind, body in probe.calls if kind == "sqs") == ["one", "two"]
    # Only the failed record stays in the queue.
    assert _queue_depth(probe, "ProbeQueue") == 1

    # Its second receive fails again; past maxReceiveCount (2) SQS moves it to the DLQ.
    assert poller.poll_once() == 1
    assert poller.poll_once() == 0
    assert _queue_depth(probe, "ProbeQueue") == 0
    dead = sqs.receive_message(QueueUrl=probe.queue("ProbeDeadLetterQueue"))["Messages"]
    assert [m["Body"] for m in dead] == ["please fail"]


def _run_execution(probe: Probe, payload: dict[str, Any]) -> dict[str, Any]:
    sfn = client("stepfunctions", probe.endpoint)
    arn = sfn.start_execution(
        stateMachineArn=probe.provisioner.out.refs["ProbeStateMachine"],
        name=str(uuid.uuid4()),
        input=json.dumps(payload),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.05)  # polling an observable state, bounded by the deadline
    raise AssertionError("the execution did not finish")


def test_state_machine_task_runs_the_real_handler(probe: Probe) -> None:
    execution = _run_execution(probe, {"key": "ok", "value": 21})
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output == {"result": {"doubled": 42, "attempt": 1, "function": "probe-ProbeTaskFunction"}}


def test_state_machine_retries_a_named_error_raised_by_the_handler(probe: Probe) -> None:
    execution = _run_execution(probe, {"key": "flaky", "mode": "flaky", "value": 1})
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["result"]["attempt"] == 2


def test_state_machine_catches_a_permanent_failure(probe: Probe) -> None:
    execution = _run_execution(probe, {"key": "broken", "mode": "broken"})
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ProbeFailed"


def test_scheduler_fires_on_demand_with_a_scheduled_event(probe: Probe) -> None:
    scheduler = Scheduler(
        probe.runtime, {"ProbeScheduledFunction": probe.runtime.specs["ProbeScheduledFunction"].schedules}, 60
    )
    probe.calls.clear()
    assert scheduler.run_now("ProbeScheduledFunction") == {"ran": True}
    assert probe.calls == [("schedule", "Scheduled Event")]


def test_schedule_periods() -> None:
    assert schedule_period_s("rate(5 minutes)") == 300
    assert schedule_period_s("rate(1 hour)") == 3600
    assert schedule_period_s("cron(0 3 * * ? *)") == 3600
    with pytest.raises(ValueError):
        schedule_period_s("every tuesday")


def test_route_precedence_follows_api_gateway() -> None:
    table = RouteTable(
        [
            HttpRoute("GET", "/api/projects/{id}", "Projects"),
            HttpRoute("GET", "/api/projects/templates", "Catalog"),
            HttpRoute("ANY", "/api/projects/{id}/files/{path+}", "Files"),
            HttpRoute("POST", "/api/projects/{id}/deploy", "Deploy"),
            HttpRoute("ANY", "$default", "System"),
        ]
    )
    assert table.match("GET", "/api/projects/templates") == (HttpRoute("GET", "/api/projects/templates", "Catalog"), {})
    assert table.match("GET", "/api/projects/p1")[1] == {"id": "p1"}  # type: ignore[index]
    route, params = table.match("PUT", "/api/projects/p1/files/src/App.tsx")  # type: ignore[misc]
    assert route.function == "Files" and params == {"id": "p1", "path": "src/App.tsx"}
    assert table.match("GET", "/api/projects/p1/deploy")[0].function == "System"  # type: ignore[index]
    assert table.match("POST", "/api/projects/p1/deploy")[0].function == "Deploy"  # type: ignore[index]


def test_ai_network_and_key_settings_come_from_template_parameters() -> None:
    template = Template.load()
    parameters = template.body["Parameters"]
    assert parameters["AiAllowPrivateNetworks"]["Default"] == "false"
    assert parameters["AiAllowPrivateNetworks"]["AllowedValues"] == ["true", "false"]
    assert parameters["AiPlatformKeyNames"]["Default"] == DEFAULT_PLATFORM_KEY_NAMES
    # Deployed with the defaults: private networks stay refused, for both functions that call providers.
    resolver = Resolver(template, {}, ref=lambda name: name, get_att=lambda *_: "", pseudo={})
    for logical_id in ("AiFunction", "GenerationWorkerFunction"):
        variables = template.function_properties(logical_id)["Environment"]["Variables"]
        assert resolver.resolve(variables["AI_ALLOW_PRIVATE_NETWORKS"]) == "false", logical_id
        assert resolver.resolve(variables["AI_PLATFORM_KEY_NAMES"]) == DEFAULT_PLATFORM_KEY_NAMES, logical_id


def test_the_local_stack_lets_ai_providers_on_this_machine_be_called(stack: LocalStack) -> None:
    # A model server on 127.0.0.1 (and the tests' fake providers) must be reachable locally.
    assert stack.function_environment["AI_ALLOW_PRIVATE_NETWORKS"] == "true"
    assert stack.function_environment["AI_PLATFORM_KEY_NAMES"] == DEFAULT_PLATFORM_KEY_NAMES
    assert get_settings().ai_allow_private_networks is True
