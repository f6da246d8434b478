"""AWS emulated by a moto server in this process, provisioned from the template.

The handlers reach it through AWS_ENDPOINT_URL exactly as they reach AWS: plain boto3 clients.
Resources the local stack has no use for (CloudFront, IAM roles, bucket policies, the HTTP API
itself, which is the gateway) are not created.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import socket
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import boto3
import httpx
from moto.server import ThreadedMotoServer

from devstack.lambdas import ACCOUNT_ID, REGION, LambdaRuntime
from devstack.template import Resolver, Template

if TYPE_CHECKING:
    from devstack.persistence import GeneratedSecrets, KmsPersistence


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
        # The Step Functions interpreter calls other services at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._server.start()
        httpx.post(
            f"{self.endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
        ).raise_for_status()

    def stop(self) -> None:
        self._server.stop()


def client_environment(endpoint: str) -> dict[str, str]:
    """What a function's environment needs so that boto3 talks to the moto server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )


@dataclass
class Provisioned:
    """Local names for the template's resources: what Ref and GetAtt resolve to."""

    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)


class AwsProvisioner:
    """Creates the template's resources in moto, in dependency order, and resolves references."""

    HANDLED: ClassVar[set[str]] = {
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::SES::EmailIdentity",
        "AWS::SecretsManager::Secret",
        "AWS::Serverless::Function",
        "AWS::Serverless::StateMachine",
    }

    NOT_RESOLVED: ClassVar[set[str]] = {"Events", "Policies", "Layers", "VpcConfig", "Environment", "Tracing"}

    def __init__(
        self,
        template: Template,
        endpoint: str,
        stack_name: str,
        parameters: dict[str, str],
        runtime: LambdaRuntime,
        kms_persistence: KmsPersistence | None = None,
        generated_secrets: GeneratedSecrets | None = None,
    ) -> None:
        self.template = template
        self.endpoint = endpoint
        self.stack_name = stack_name
        self.runtime = runtime
        self.kms_persistence = kms_persistence
        self.generated_secrets = generated_secrets
        self.out = Provisioned()
        self.resolver = Resolver(
            template,
            parameters,
            ref=self._ref,
            get_att=self._get_att,
            pseudo={
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": "aws",
                "AWS::StackName": stack_name,
                "AWS::URLSuffix": "amazonaws.com",
            },
        )

    # -- reference resolution -------------------------------------------------------------
    def _ensure(self, logical_id: str) -> None:
        if logical_id not in self.out.refs:
            resource = self.template.resources.get(logical_id)
            if resource is None:
                raise KeyError(f"template has no resource {logical_id}")
            self._create(logical_id, resource)

    def _ref(self, logical_id: str) -> str:
        self._ensure(logical_id)
        return self.out.refs[logical_id]

    def _get_att(self, logical_id: str, attribute: str) -> str:
        self._ensure(logical_id)
        try:
            return self.out.attributes[(logical_id, attribute)]
        except KeyError:
            raise KeyError(f"the local stack does not know {logical_id}.{attribute}") from None

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}".lower()

    # -- creation -------------------------------------------------------------------------
    def provision(self) -> Provisioned:
        for logical_id, resource in self.template.resources.items():
            if resource.get("Type") in self.HANDLED and logical_id not in self.out.refs:
                condition = resource.get("Condition")
                if condition and not self.resolver.condition(condition):
                    continue
                self._create(logical_id, resource)
        return self.out

    def _create(self, logical_id: str, resource: dict[str, Any]) -> None:
        kind = resource["Type"]
        creator = {
            "AWS::SQS::Queue": self._queue,
            "AWS::S3::Bucket": self._bucket,
            "AWS::KMS::Key": self._key,
            "AWS::KMS::Alias": self._alias,
            "AWS::SES::EmailIdentity": self._email_identity,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::StateMachine": self._state_machine,
        }.get(kind)
        if creator is None:
            raise KeyError(f"the local stack cannot create {logical_id} ({kind})")
        # Only what the local resource needs is resolved: events, policies and layers point
        # at things (the HTTP API, IAM) that are not emulated.
        props = {
            key: self.resolver.resolve(value)
            for key, value in resource.get("Properties", {}).items()
            if key not in self.NOT_RESOLVED
        }
        creator(logical_id, props)

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        sqs = client("sqs", self.endpoint)
        attributes: dict[str, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
            if key in props:
                attributes[key] = str(props[key])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        name = props.get("QueueName") or self.physical_name(logical_id)
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.out.refs[logical_id] = url
        self.out.attributes[(logical_id, "Arn")] = arn
        self.out.attributes[(logical_id, "QueueName")] = name
        self.out.attributes[(logical_id, "QueueUrl")] = url

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        s3 = client("s3", self.endpoint)
        name = props.get("BucketName") or self.physical_name(logical_id)
        s3.create_bucket(Bucket=name)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if "BucketEncryption" in props:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    # CloudFormation and the S3 API name the same rule differently.
                    "Rules": [
                        {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        self.out.refs[logical_id] = name
        self.out.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        self.out.attributes[(logical_id, "RegionalDomainName")] = f"{name}.s3.{REGION}.amazonaws.com"

    def _key(self, logical_id: str, props: dict[str, Any]) -> None:
        kms = client("kms", self.endpoint)
        key_id = kms.create_key(Description=props.get("Description", logical_id))["KeyMetadata"]["KeyId"]
        if self.kms_persistence is not None:
            key_id = self.kms_persistence.adopt(logical_id, key_id)
        arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        self.out.refs[logical_id] = key_id
        self.out.attributes[(logical_id, "Arn")] = arn
        self.out.attributes[(logical_id, "KeyId")] = key_id

    def _alias(self, logical_id: str, props: dict[str, Any]) -> None:
        client("kms", self.endpoint).create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        self.out.refs[logical_id] = props["AliasName"]

    def _email_identity(self, logical_id: str, props: dict[str, Any]) -> None:
        identity = props["EmailIdentity"]
        client("ses", self.endpoint).verify_email_identity(EmailAddress=identity)
        self.out.refs[logical_id] = identity

    def _secret(self, logical_id: str, props: dict[str, Any]) -> None:
        sm = client("secretsmanager", self.endpoint)
        value = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if value is None and generate is not None:

            def generated() -> str:
                random = secrets.token_urlsafe(int(generate.get("PasswordLength", 48)))[
                    : int(generate.get("PasswordLength", 48))
                ]
                if "SecretStringTemplate" in generate:
                    body = json.loads(generate["SecretStringTemplate"])
                    body[generate["GenerateStringKey"]] = random
                    return json.dumps(body)
                return random

            value = (
                self.generated_secrets.get_or_create(logical_id, generated) if self.generated_secrets else generated()
            )
        name = props.get("Name") or self.physical_name(logical_id)
        arn = sm.create_secret(Name=name, SecretString=value or "")["ARN"]
        self.out.refs[logical_id] = arn
        self.out.attributes[(logical_id, "Id")] = arn

    def _function(self, logical_id: str, props: dict[str, Any]) -> None:
        # A placeholder function in moto gives the ARN a real existence; invocations are
        # dispatched to the in-process handler (see lambdas.install_moto_dispatch).
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
        lam = client("lambda", self.endpoint)
        name = self.runtime.function_name(logical_id)
        arn = lam.create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.11"),
            Role=self._execution_role(),
            Handler=props.get("Handler", "handler.handler"),
            Code={"ZipFile": archive.getvalue()},
            Timeout=int(props.get("Timeout", 3)),
        )["FunctionArn"]
        self.out.refs[logical_id] = name
        self.out.attributes[(logical_id, "Arn")] = arn

    def _execution_role(self) -> str:
        if not hasattr(self, "_role_arn"):
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
            self._role_arn: str = client("iam", self.endpoint).create_role(
                RoleName=f"{self.stack_name}-functions", AssumeRolePolicyDocument=json.dumps(trust)
            )["Role"]["Arn"]
        return self._role_arn

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        if "DefinitionUri" in props:
            definition = (self.template.path.parent / props["DefinitionUri"]).read_text(encoding="utf-8")
        else:
            definition = json.dumps(props["Definition"])
        substitutions = props.get("DefinitionSubstitutions", {})

        # DefinitionSubstitutions are a CloudFormation feature; only ${Known} keys are replaced.
        def substitute(match: re.Match[str]) -> str:
            key = match.group(1)
            return str(substitutions[key]) if key in substitutions else match.group(0)

        definition = re.sub(r"\$\{(\w+)\}", substitute, definition)
        sfn = client("stepfunctions", self.endpoint)
        name = props.get("Name") or self.physical_name(logical_id)
        arn = sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            type=props.get("Type", "STANDARD"),
        )["stateMachineArn"]
        self.out.refs[logical_id] = arn
        self.out.attributes[(logical_id, "Arn")] = arn
        self.out.attributes[(logical_id, "Name")] = name
