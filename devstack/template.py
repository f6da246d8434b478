"""Reads infra/template.yaml: the functions, their routes, queues, schedules and resources.

Only what the local stack needs is interpreted: the intrinsic functions the template uses
(Ref, GetAtt, Sub, If, Join, Equals, Not) and SAM's Globals for functions.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "infra" / "template.yaml"

NO_VALUE = object()


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A YAML loader that turns CloudFormation short-form tags into their long form."""


def _tag_constructor(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag_constructor)


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = dict(yaml.load(handle, Loader=_CfnLoader))  # noqa: S506 - SafeLoader subclass
    return loaded


@dataclass
class HttpRoute:
    method: str  # upper case, or ANY
    path: str  # API Gateway form: /api/projects/{id}, /api/x/{path+}, or $default
    function: str  # logical id


@dataclass
class QueueSubscription:
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int
    report_batch_item_failures: bool


@dataclass
class Schedule:
    name: str
    expression: str
    # The event's ``Input`` (constant JSON EventBridge sends instead of its own event), when set.
    input: Any = None


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str  # module.path.attribute
    timeout: int
    memory: int
    environment: dict[str, Any]
    routes: list[HttpRoute] = field(default_factory=list)
    queues: list[QueueSubscription] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)


@dataclass(frozen=True)
class ResponseHeader:
    """A header CloudFront adds to an answer (``override``: even when the origin sent one)."""

    name: str
    value: str
    override: bool


def _policy_headers(config: dict[str, Any]) -> list[ResponseHeader]:
    """The headers of a ResponseHeadersPolicyConfig (the parts this template uses)."""
    headers = []
    security = dict(config.get("SecurityHeadersConfig") or {})
    hsts = security.pop("StrictTransportSecurity", None)
    if hsts:
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        headers.append(ResponseHeader("Strict-Transport-Security", value, bool(hsts["Override"])))
    frame = security.pop("FrameOptions", None)
    if frame:
        headers.append(ResponseHeader("X-Frame-Options", str(frame["FrameOption"]), bool(frame["Override"])))
    sniff = security.pop("ContentTypeOptions", None)
    if sniff:
        headers.append(ResponseHeader("X-Content-Type-Options", "nosniff", bool(sniff["Override"])))
    referrer = security.pop("ReferrerPolicy", None)
    if referrer:
        headers.append(ResponseHeader("Referrer-Policy", str(referrer["ReferrerPolicy"]), bool(referrer["Override"])))
    csp = security.pop("ContentSecurityPolicy", None)
    if csp:
        value = " ".join(str(csp["ContentSecurityPolicy"]).split())
        headers.append(ResponseHeader("Content-Security-Policy", value, bool(csp["Override"])))
    if security:
        raise ValueError(f"the local stack does not apply {sorted(security)} yet")
    for item in (config.get("CustomHeadersConfig") or {}).get("Items", []):
        headers.append(ResponseHeader(str(item["Header"]), str(item["Value"]), bool(item["Override"])))
    return headers


@dataclass
class Template:
    path: Path
    body: dict[str, Any]

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        return cls(path=path, body=load_yaml(path))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body.get("Resources", {})
        return resources

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == resource_type}

    def layer_dirs(self) -> list[Path]:
        dirs = []
        for resource in self.resources_of_type("AWS::Serverless::LayerVersion").values():
            dirs.append((self.path.parent / resource["Properties"]["ContentUri"]).resolve())
        return dirs

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with SAM's Globals applied (environment merged, local wins)."""
        merged: dict[str, Any] = copy.deepcopy(self.body.get("Globals", {}).get("Function", {}))
        own = copy.deepcopy(self.resources[logical_id].get("Properties", {}))
        global_env = merged.get("Environment", {}).get("Variables", {})
        own_env = own.get("Environment", {}).get("Variables", {})
        merged.update(own)
        merged["Environment"] = {"Variables": {**global_env, **own_env}}
        return merged

    def functions(self) -> list[FunctionSpec]:
        specs = []
        for logical_id in self.resources_of_type("AWS::Serverless::Function"):
            props = self.function_properties(logical_id)
            spec = FunctionSpec(
                logical_id=logical_id,
                code_dir=(self.path.parent / props["CodeUri"]).resolve(),
                handler=props["Handler"],
                timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)),
                environment=props["Environment"]["Variables"],
            )
            for name, event in (props.get("Events") or {}).items():
                kind, ev = event["Type"], event.get("Properties", {})
                if kind == "HttpApi":
                    spec.routes.append(HttpRoute(str(ev["Method"]).upper(), str(ev["Path"]), logical_id))
                elif kind == "SQS":
                    queue = ev["Queue"]["Fn::GetAtt"][0]
                    spec.queues.append(
                        QueueSubscription(
                            queue=queue,
                            batch_size=int(ev.get("BatchSize", 10)),
                            report_batch_item_failures="ReportBatchItemFailures"
                            in (ev.get("FunctionResponseTypes") or []),
                        )
                    )
                elif kind in ("Schedule", "ScheduleV2"):
                    expression = ev.get("Schedule") or ev.get("ScheduleExpression")
                    raw_input = ev.get("Input")
                    spec.schedules.append(
                        Schedule(
                            name=name,
                            expression=str(expression),
                            input=json.loads(raw_input) if isinstance(raw_input, str) else None,
                        )
                    )
            specs.append(spec)
        return specs

    def routes(self) -> list[HttpRoute]:
        return [route for fn in self.functions() for route in fn.routes]

    def response_headers(
        self,
        path_pattern: str | None = None,
        *,
        distribution: str = "Distribution",
        resolve: Callable[[Any], Any] | None = None,
    ) -> list[ResponseHeader]:
        """The headers CloudFront adds to answers of ``distribution``'s cache behavior for ``path_pattern``
        (None: the default behavior), from its ResponseHeadersPolicy; ``resolve`` evaluates the intrinsic
        functions a policy uses (the content security policies name AppUrl and PreviewDomain)."""
        headers: list[ResponseHeader] = []
        for logical_id, resource in self.resources_of_type("AWS::CloudFront::Distribution").items():
            if logical_id != distribution:
                continue
            config = resource["Properties"]["DistributionConfig"]
            if path_pattern is None:
                behavior = config["DefaultCacheBehavior"]
            else:
                behavior = next(b for b in config.get("CacheBehaviors", []) if b["PathPattern"] == path_pattern)
            policy = behavior.get("ResponseHeadersPolicyId")
            if isinstance(policy, dict) and "Ref" in policy:
                policy_config = self.resources[policy["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
                headers += _policy_headers(resolve(policy_config) if resolve else policy_config)
        return headers


class Resolver:
    """Evaluates intrinsic functions against local values for parameters and resources."""

    def __init__(
        self,
        template: Template,
        parameters: dict[str, str],
        ref: Callable[[str], str],
        get_att: Callable[[str, str], str],
        pseudo: dict[str, str],
    ) -> None:
        self.template = template
        self.parameters = parameters
        self._ref = ref
        self._get_att = get_att
        self.pseudo = pseudo

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.body.get("Conditions", {})[name]))

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template.body.get("Parameters", {}).get(name)
        if declared is not None:
            if "Default" not in declared:
                raise KeyError(f"template parameter {name} has no default and no local value")
            default = declared["Default"]
            if declared.get("Type") == "CommaDelimitedList":
                return [part for part in str(default).split(",") if part] if default else [""]
            return str(default)
        return self._ref(name)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self._get_att(logical_id, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self._get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)
