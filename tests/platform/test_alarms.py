"""The operational alarms in the template watch what the code really emits: the dead-letter queues that exist, the
HTTP API, and the Powertools metrics the functions publish (namespace, name and service dimension as in the code)."""

from __future__ import annotations

import re
from fnmatch import fnmatch

from devstack.template import REPO_ROOT, Template

NAMESPACE = "MoreMinimore"


def _published() -> set[tuple[str, str]]:
    """(service, metric name pattern) of every ``count(...)`` in the functions: ``count(SERVICE, "Name")`` with the
    module's SERVICE constant, or ``count("service", f"Job_{...}")`` (a pattern: ``Job_*``)."""
    found: set[tuple[str, str]] = set()
    for path in (REPO_ROOT / "functions").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        declared = re.search(r'^SERVICE = "([^"]+)"', text, re.M)
        for service, name in re.findall(r'count\(\s*(SERVICE|"[^"]+")\s*,\s*f?"([^"]+)"', text):
            owner = declared.group(1) if service == "SERVICE" and declared else service.strip('"')
            found.add((owner, re.sub(r"\{[^}]*\}", "*", name)))
    return found


def test_every_alarm_watches_something_that_exists_and_notifies_the_topic() -> None:
    template = Template.load()
    alarms = template.resources_of_type("AWS::CloudWatch::Alarm")
    assert {"JobsDeadLetterAlarm", "ApiServerErrorsAlarm", "FailedJobsAlarm", "WebhookFailuresAlarm"} <= set(alarms)
    queues = set(template.resources_of_type("AWS::SQS::Queue"))
    dead_letter_queues = {name for name in queues if "DeadLetter" in name}
    watched_queues = set()
    published = _published()
    notify = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == notify
        [dimension] = props["Dimensions"]
        if props["Namespace"] == "AWS/SQS":
            watched_queues.add(dimension["Value"]["Fn::GetAtt"][0])
        elif props["Namespace"] == NAMESPACE:
            assert dimension["Name"] == "service"
            metric = (dimension["Value"], props["MetricName"])
            assert any(service == metric[0] and fnmatch(metric[1], pattern) for service, pattern in published), name
        else:
            assert props["Namespace"] == "AWS/ApiGateway" and dimension["Value"] == {"Ref": "HttpApi"}
    assert watched_queues == dead_letter_queues  # every dead-letter queue, and only those
