"""The whole local stack in one process: Postgres, moto, the functions, the gateway, workers.

Handlers run unchanged: they get the environment the template gives them, with AWS reached at
AWS_ENDPOINT_URL (moto) and Postgres through the template's DB_* settings and a secret in
moto's Secrets Manager, exactly the path they take in AWS.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devstack.aws import AwsProvisioner, MotoServer, client, client_environment
from devstack.easypanel import BuildMode, EasypanelEmulator, EasypanelServer
from devstack.gateway import Gateway
from devstack.gitea import GiteaEmulator, GiteaServer
from devstack.lambdas import LambdaRuntime, install_moto_dispatch
from devstack.mailbox import Mailbox
from devstack.persistence import GeneratedSecrets, KmsPersistence, S3Persistence
from devstack.postgres import Postgres, credentials_secret, split_for_template, start_postgres
from devstack.stripe import StripeEmulator, StripeServer
from devstack.template import REPO_ROOT, Resolver, ResponseHeader, Template
from devstack.workers import QueuePoller, Scheduler

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PLACEHOLDER_SPA = REPO_ROOT / "frontend" / "placeholder"
# MM_WEB_DIST serves another build of the web app (several checkouts of work in progress side by side).
DESIGN_ENGINE_ASSETS = REPO_ROOT / "layers" / "design_engine" / "node_modules" / "uipro-cli" / "assets"
BUILT_SPA = Path(os.environ.get("MM_WEB_DIST") or REPO_ROOT / "frontend" / "dist")


@dataclass
class StackConfig:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("MM_DATA_DIR", REPO_ROOT / ".local")))
    port: int = field(default_factory=lambda: int(os.environ.get("PORT", "8000")))
    database_name: str = field(default_factory=lambda: os.environ.get("MM_DATABASE_NAME", "moreminimore"))
    moto_port: int | None = field(default_factory=lambda: int(os.environ.get("MM_MOTO_PORT", "0")) or None)
    recreate_database: bool = False
    stack_name: str = "mm-local"
    run_workers: bool = True
    persist: bool = True
    schedule_max_period_s: int = field(default_factory=lambda: int(os.environ.get("MM_SCHEDULE_MAX_PERIOD_S", "60")))
    save_period_s: int = 10
    mail_from: str = field(default_factory=lambda: os.environ.get("MM_MAIL_FROM", "no-reply@moreminimore.local"))
    # How the Easypanel emulator advances a build: None picks "background" when workers run
    # (make dev: a build runs on its own) and "poll" otherwise (tests: every look moves it a step).
    easypanel_build_mode: BuildMode | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalStack:
    def __init__(self, config: StackConfig | None = None, template: Template | None = None) -> None:
        self.config = config or StackConfig()
        self.template = template or Template.load()
        self.postgres: Postgres | None = None
        self.database_url = ""
        self.moto: MotoServer | None = None
        self.runtime: LambdaRuntime | None = None
        self.resolver: Resolver | None = None
        self.outputs: dict[str, str] = {}
        self.function_environment: dict[str, str] = {}
        self.pollers: dict[str, list[QueuePoller]] = {}
        self.scheduler: Scheduler | None = None
        self.persistence: S3Persistence | None = None
        self.mailbox = Mailbox()
        # The emulators, when this stack runs them (GITEA_URL / EASYPANEL_URL unset).
        self.gitea: GiteaServer | None = None
        self.easypanel: EasypanelServer | None = None
        # The Stripe emulator, when this stack runs it (STRIPE_SECRET_KEY unset).
        self.stripe: StripeServer | None = None
        self._emulated_environment: dict[str, str] = {}
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None

    # ------------------------------------------------------------------ start and stop
    def start(self) -> LocalStack:
        from mm_common.migrate import migrate

        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.postgres = start_postgres(cfg.data_dir / "postgres")
        self.database_url = self.postgres.ensure_database(cfg.database_name, recreate=cfg.recreate_database)
        migrate(self.database_url)
        # Functions reach Postgres the AWS way (DB_HOST + secret), not through DATABASE_URL.
        os.environ.pop("DATABASE_URL", None)

        self.moto = MotoServer(cfg.moto_port)
        self.moto.start()
        os.environ.update(client_environment(self.moto.endpoint))
        os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"})

        self.runtime = LambdaRuntime(self.template, cfg.stack_name)
        install_moto_dispatch(self.runtime)
        secret_arn = client("secretsmanager", self.moto.endpoint).create_secret(
            Name=f"{cfg.stack_name}/database", SecretString=json.dumps(credentials_secret(self.database_url))
        )["ARN"]
        parameters = {
            "Stage": "local",
            "AppUrl": cfg.url,
            "DbSecretArn": secret_arn,
            "MailFrom": cfg.mail_from,
            "CreateEmailIdentity": "true",
            # A model server on this machine (and the tests' fake providers on 127.0.0.1) is
            # reachable locally; deployed stacks keep the template's default, off.
            "AiAllowPrivateNetworks": "true",
            # DesignEngineLayer's content as `make install` leaves it (npm ci of layers/design_engine).
            "DesignEngineAssetsDir": str(DESIGN_ENGINE_ASSETS),
            **self._preview_parameters(),
            # Browsers reach this stack's S3 (moto) for import uploads through its own origin, as they would
            # reach S3's endpoint in AWS (LocalEdge passes /_s3/* to moto untouched).
            "ImportUploadEndpoint": f"{cfg.url}{S3_PATH}",
            **split_for_template(self.database_url),
            **self._deploy_services(),
            **self._payment_service(),
        }
        state = cfg.data_dir / "aws"
        provisioner = AwsProvisioner(
            self.template,
            self.moto.endpoint,
            cfg.stack_name,
            parameters,
            self.runtime,
            kms_persistence=KmsPersistence(state / "kms.json") if cfg.persist else None,
            generated_secrets=GeneratedSecrets(state / "secrets.json") if cfg.persist else None,
        )
        provisioned = provisioner.provision()
        self.outputs = dict(provisioned.refs)
        self.resolver = provisioner.resolver
        self._apply_function_environment(provisioner)

        if cfg.persist:
            buckets = [provisioned.refs[b] for b in self.template.resources_of_type("AWS::S3::Bucket")]
            self.persistence = S3Persistence(cfg.data_dir / "aws" / "s3", self.moto.endpoint, buckets)
            self.persistence.restore()
            self.mailbox = Mailbox(cfg.data_dir / "aws" / "mail.json")

        self._bootstrap_admin()
        self._seed_ai_catalog()
        self._build_workers(provisioner)
        if cfg.run_workers:
            for pollers in self.pollers.values():
                for poller in pollers:
                    poller.start()
            assert self.scheduler is not None
            self.scheduler.start()
            if self.persistence is not None:
                self._saver = threading.Thread(target=self._save_periodically, name="persist", daemon=True)
                self._saver.start()
        return self

    def _preview_parameters(self) -> dict[str, str]:
        """Live previews at http://<label>.preview.localhost:<port>/ (browsers resolve *.localhost to this
        machine; LocalEdge serves them), built with the Node on PATH, the worker's files under MM_DATA_DIR."""
        node = shutil.which("node")
        return {
            "PreviewDomain": PREVIEW_DOMAIN,
            "PreviewSiteUrl": f"http://{{label}}.{{domain}}:{self.config.port}",
            # Empty: the worker looks on PATH and, without Node, fails each build saying so.
            "NodeBinDir": str(Path(node).parent) if node else "",
            "PreviewWorkDir": str(self.config.data_dir / "preview"),
        }

    def _secret(self, name: str, value: str) -> str:
        """A Secrets Manager secret of this stack holding ``value`` (how functions get tokens and keys); its ARN."""
        assert self.moto is not None
        sm = client("secretsmanager", self.moto.endpoint)
        return str(sm.create_secret(Name=f"{self.config.stack_name}/{name}", SecretString=value)["ARN"])

    def _payment_service(self) -> dict[str, str]:
        """Template parameters for Stripe: the account STRIPE_SECRET_KEY (with STRIPE_WEBHOOK_SECRET and
        STRIPE_API_BASE) names, else an emulator this stack starts, whose webhooks reach this stack's own
        webhook route signed with its secret. Secrets go to Secrets Manager, as in AWS."""
        cfg = self.config
        secret = self._secret
        parameters: dict[str, str] = {}
        if os.environ.get("STRIPE_PRICE_LOOKUP_KEYS"):
            parameters["StripePriceLookupKeys"] = os.environ["STRIPE_PRICE_LOOKUP_KEYS"]
        key = _external("STRIPE_SECRET_KEY")
        if key:
            parameters["StripeSecretKeySecretArn"] = secret("stripe-secret-key", key)
            if os.environ.get("STRIPE_WEBHOOK_SECRET"):
                parameters["StripeWebhookSecretArn"] = secret(
                    "stripe-webhook-secret", os.environ["STRIPE_WEBHOOK_SECRET"]
                )
            if _external("STRIPE_API_BASE"):
                parameters["StripeApiBase"] = _external("STRIPE_API_BASE")
            return parameters
        # make dev delivers webhooks from a thread of the emulator's, retrying as Stripe does; tests deliver
        # them in the thread that made the change (and retry when they say so).
        emulator = StripeEmulator(
            delivery="background" if cfg.run_workers else "sync", webhook_url=f"{cfg.url}/api/billing/webhook"
        )
        self.stripe = StripeServer(emulator).start()
        parameters["StripeApiBase"] = self._emulated_environment["STRIPE_API_BASE"] = self.stripe.url
        parameters["StripeSecretKeySecretArn"] = secret("stripe-secret-key", emulator.secret_key)
        parameters["StripeWebhookSecretArn"] = secret("stripe-webhook-secret", emulator.webhook_secret)
        print(f"[stack] Stripe emulator on {self.stripe.url} (Checkout and the portal are pages there)")
        return parameters

    def _deploy_services(self) -> dict[str, str]:
        """Template parameters for Gitea and Easypanel: the servers GITEA_URL / EASYPANEL_URL name
        (with GITEA_TOKEN / EASYPANEL_TOKEN), else emulators this stack starts. Tokens go to
        Secrets Manager and reach the functions by ARN, as in AWS."""
        cfg = self.config
        secret = self._secret
        parameters: dict[str, str] = {}
        if os.environ.get("GITEA_OWNER"):
            parameters["GiteaOwner"] = os.environ["GITEA_OWNER"]
        gitea_url = _external("GITEA_URL")
        if gitea_url:
            parameters["GiteaUrl"] = gitea_url
            if os.environ.get("GITEA_TOKEN"):
                parameters["GiteaTokenSecretArn"] = secret("gitea-token", os.environ["GITEA_TOKEN"])
        else:
            token = f"gitea-{secrets.token_hex(20)}"
            owner = parameters.get("GiteaOwner", "moreminimore")
            emulator = GiteaEmulator(cfg.data_dir / "gitea", tokens={token: "mm-bot"}, orgs={owner})
            self.gitea = GiteaServer(emulator).start()
            parameters["GiteaUrl"] = self.gitea.url
            parameters["GiteaTokenSecretArn"] = secret("gitea-token", token)
            self._emulated_environment["GITEA_URL"] = self.gitea.url
            print(f"[stack] Gitea emulator on {self.gitea.url} (repositories in {cfg.data_dir / 'gitea'})")

        easypanel_url = _external("EASYPANEL_URL")
        if easypanel_url:
            parameters["EasypanelUrl"] = easypanel_url
            if os.environ.get("EASYPANEL_TOKEN"):
                parameters["EasypanelTokenSecretArn"] = secret("easypanel-token", os.environ["EASYPANEL_TOKEN"])
        else:
            mode: BuildMode = cfg.easypanel_build_mode or ("background" if cfg.run_workers else "poll")
            panel = EasypanelEmulator(build_mode=mode, work_dir=cfg.data_dir / "easypanel")
            self.easypanel = EasypanelServer(panel).start()
            parameters["EasypanelUrl"] = self.easypanel.url
            parameters["EasypanelTokenSecretArn"] = secret("easypanel-token", panel.api_token)
            self._emulated_environment["EASYPANEL_URL"] = self.easypanel.url
            print(f"[stack] Easypanel emulator on {self.easypanel.url} (apps at {self.easypanel.url}/_apps/<host>/)")

        parameters["AppsDomain"] = _external("APPS_DOMAIN")
        if not parameters["AppsDomain"]:
            parameters["AppsDomain"] = self._emulated_environment["APPS_DOMAIN"] = "localhost"
        deployed_app_url = _external("DEPLOYED_APP_URL")
        if deployed_app_url:
            parameters["DeployedAppUrl"] = deployed_app_url
        elif self.easypanel is not None:
            # *.localhost resolves to this machine in browsers, and the emulator serves each app at
            # its own host name on its port: the URL a deployment shows opens on a laptop.
            port = urlsplit(self.easypanel.url).port
            parameters["DeployedAppUrl"] = self._emulated_environment["DEPLOYED_APP_URL"] = f"http://{{host}}:{port}"
        healthcheck = _external("APP_HEALTHCHECK_URL")
        if healthcheck:
            parameters["AppHealthcheckUrl"] = healthcheck
        elif self.easypanel is not None:
            # The emulator serves every deployed app under /_apps/<host>/: no DNS needed.
            healthcheck = f"{self.easypanel.url}/_apps/{{host}}/"
            parameters["AppHealthcheckUrl"] = self._emulated_environment["APP_HEALTHCHECK_URL"] = healthcheck
        return parameters

    def _apply_function_environment(self, provisioner: AwsProvisioner) -> None:
        """Set every function's template environment; one process means one environment."""
        merged: dict[str, str] = {}
        for spec in self.template.functions():
            resolved = provisioner.resolver.resolve(spec.environment)
            for key, value in resolved.items():
                value = str(value)
                if key in merged and merged[key] != value:
                    raise ValueError(
                        f"functions disagree on {key} ({merged[key]!r} vs {value!r}); "
                        "give function-specific settings distinct names"
                    )
                merged[key] = value
        self.function_environment = merged
        os.environ.update(merged)
        # Mark what this stack chose (its emulators' URLs, local defaults), so a stack started
        # later from this environment (another in this process, a child process) chooses anew.
        for name, value in self._emulated_environment.items():
            os.environ[f"{_EMULATED_PREFIX}{name}"] = value
        from mm_common.config import get_settings

        get_settings.cache_clear()

    def _bootstrap_admin(self) -> None:
        email, password = os.environ.get("MM_ADMIN_EMAIL", ""), os.environ.get("MM_ADMIN_PASSWORD", "")
        if email and password:
            from mm_common.admin_bootstrap import ensure_admin

            if ensure_admin(email, password):
                print(f"[stack] created admin {email}")

    def _seed_ai_catalog(self) -> None:
        from mm_common import db
        from mm_common.ai.catalog import seed_catalog

        with db.transaction() as conn:
            seed_catalog(conn)

    def _build_workers(self, provisioner: AwsProvisioner) -> None:
        assert self.runtime is not None and self.moto is not None
        schedules = {}
        for spec in self.template.functions():
            for subscription in spec.queues:
                poller = QueuePoller(
                    self.runtime,
                    spec.logical_id,
                    subscription,
                    queue_url=provisioner.out.refs[subscription.queue],
                    queue_arn=provisioner.out.attributes[(subscription.queue, "Arn")],
                    endpoint=self.moto.endpoint,
                )
                self.pollers.setdefault(spec.logical_id, []).append(poller)
            if spec.schedules:
                schedules[spec.logical_id] = spec.schedules
        self.scheduler = Scheduler(self.runtime, schedules, self.config.schedule_max_period_s)

    def _save_periodically(self) -> None:
        while not self._stop.wait(self.config.save_period_s):
            self.save()

    def save(self) -> None:
        if self.persistence is not None:
            self.persistence.save()
        self.mailbox.save()

    def stop(self) -> None:
        self._stop.set()
        for pollers in self.pollers.values():
            for poller in pollers:
                poller.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.moto is not None:
            self.save()
        if self.runtime is not None:
            self.runtime.close()
        if self.moto is not None:
            self.moto.stop()
        if self.easypanel is not None:
            self.easypanel.stop()
        if self.stripe is not None:
            self.stripe.stop()
        if self.gitea is not None:
            self.gitea.stop()
        for name in self._emulated_environment:
            if os.environ.get(name) == os.environ.pop(f"{_EMULATED_PREFIX}{name}", None):
                os.environ.pop(name, None)

    # ------------------------------------------------------------------ HTTP
    def asgi_app(self) -> ASGIApp:
        """The stack's one origin, as CloudFront serves it: /api to the API, the rest to the SPA."""
        assert self.runtime is not None
        gateway = Gateway(self.runtime, self.template.routes())
        spa_dir = BUILT_SPA if (BUILT_SPA / "index.html").exists() else PLACEHOLDER_SPA

        async def mail_json(_: Request) -> Response:
            return JSONResponse(self.mailbox.all())

        async def mail_html(_: Request) -> Response:
            return HTMLResponse(self.mailbox.render_html())

        async def run_schedule(request: Request) -> Response:
            function = request.path_params["function"]
            if self.scheduler is None or function not in self.scheduler.schedules:
                return JSONResponse({"error": f"no scheduled function {function}"}, status_code=404)
            result: Any = await _in_thread(self.scheduler.run_now, function)
            return JSONResponse({"function": function, "result": result})

        async def spa(request: Request) -> Response:
            # The template's SpaRouting function and the upload's Cache-Control, reproduced: a
            # path whose last segment has no dot is a client-side route (index.html, revalidated
            # on every load); anything else is a file or a 404, hashed assets cached for good.
            relative = request.path_params.get("path", "")
            if "." not in relative.rsplit("/", 1)[-1]:
                return FileResponse(spa_dir / "index.html", headers={"Cache-Control": "no-cache"})
            candidate = (spa_dir / relative).resolve()
            if not (candidate.is_file() and candidate.is_relative_to(spa_dir.resolve())):
                return Response("Not found", status_code=404, media_type="text/plain")
            immutable = relative.startswith("assets/")
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})

        site = Starlette(
            routes=[
                Route("/dev/mail.json", mail_json),
                Route("/dev/mail", mail_html),
                Route("/dev/schedules/{function}", run_schedule, methods=["POST"]),
                Route("/", spa),
                Route("/{path:path}", spa),
            ]
        )
        previews = PreviewSites(self.outputs["PreviewsBucket"], self.moto.endpoint) if self.moto else None
        assert self.resolver is not None
        return LocalEdge(
            gateway,
            site,
            self.template,
            previews=previews,
            resolve=self.resolver.resolve,
            s3_endpoint=self.moto.endpoint if self.moto else None,
        )


_EMULATED_PREFIX = "MM_EMULATED_"


def _external(name: str) -> str:
    """The value the environment sets for ``name`` (GITEA_URL, APPS_DOMAIN, …), unless a local
    stack put it there for itself (then "": this stack chooses its own)."""
    value = os.environ.get(name, "")
    return "" if value == os.environ.get(f"{_EMULATED_PREFIX}{name}") else value.rstrip("/")


def _is_api_path(raw_path: bytes) -> bool:
    return raw_path == b"/api" or raw_path.startswith(b"/api/")


def _adding_headers(send: Send, headers: list[ResponseHeader]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = MutableHeaders(scope=message)
            for header in headers:
                if header.override or header.name not in present:
                    present[header.name] = header.value
        await send(message)

    return send_with_headers


PREVIEW_DOMAIN = "preview.localhost"
S3_PATH = "/_s3"
# Hop-by-hop and per-connection headers a proxy does not pass on.
_NOT_FORWARDED = {b"host", b"connection", b"keep-alive", b"transfer-encoding"}
# What the template's PreviewRouting function accepts as a label (preview_builds.new_label makes them).
_PREVIEW_LABEL = re.compile(r"[a-z2-7]{26}")


def preview_key(host: str, path: str) -> str | None:
    """The previews bucket's key for a request to ``host``/``path``, as the template's PreviewRouting
    function maps it (tests run both on the same cases); None where it answers 404."""
    label = host.split(".")[0].lower()
    if not _PREVIEW_LABEL.fullmatch(label):
        return None
    name = path.split("/")[-1]
    return f"sites/{label}" + ("/index.html" if "." not in name else path)


class PreviewSites:
    """The preview distribution's origin locally: the previews bucket in moto."""

    def __init__(self, bucket: str, endpoint: str) -> None:
        self.bucket = bucket
        self.s3 = client("s3", endpoint)

    def get(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        from botocore.exceptions import ClientError

        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return None
        headers = {"Content-Type": found.get("ContentType", "application/octet-stream")}
        if found.get("CacheControl"):
            headers["Cache-Control"] = found["CacheControl"]
        return found["Body"].read(), headers


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return str(value.decode("latin-1")).rsplit(":", 1)[0].lower()
    return ""


class LocalEdge:
    """CloudFront's part locally: every /api request (whatever its path holds: newlines too, which
    no Starlette route matches) goes to the local API Gateway, the rest to the SPA and the dev
    pages; answers get the response headers policy of their cache behavior in the template. Requests
    to <label>.preview.localhost are the preview distribution's: the label's site in the previews bucket."""

    def __init__(
        self,
        gateway: Gateway,
        site: ASGIApp,
        template: Template,
        *,
        previews: PreviewSites | None = None,
        resolve: Callable[[Any], Any] | None = None,
        s3_endpoint: str | None = None,
    ) -> None:
        self.gateway = gateway
        self.site = site
        self.previews = previews
        self.s3_endpoint = s3_endpoint
        # `resolve`: the stack's template resolver, for the policies that name parameters (AppUrl, PreviewDomain).
        self.api_headers = template.response_headers("/api/*", resolve=resolve)
        self.site_headers = template.response_headers(resolve=resolve)
        self.preview_headers = template.response_headers(distribution="PreviewDistribution", resolve=resolve)

    async def _preview(self, scope: Scope, receive: Receive, send: Send, host: str) -> None:
        assert self.previews is not None
        key = preview_key(host, scope["path"]) if scope["method"] in ("GET", "HEAD") else None
        found = await _in_thread(self.previews.get, key) if key is not None else None
        if found is None:
            response = Response("Not found", status_code=404, media_type="text/plain")
        else:
            body, headers = found
            response = Response(body, headers=headers)
        await response(scope, receive, _adding_headers(send, self.preview_headers))

    async def _s3(self, scope: Scope, receive: Receive, send: Send, path: bytes) -> None:
        """S3's endpoint as the browser sees it in AWS: the request goes to moto as it came (a presigned POST's
        form carries its own policy and signature), streamed both ways."""
        import httpx

        assert self.s3_endpoint is not None
        request = Request(scope, receive)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _NOT_FORWARDED]
        url = self.s3_endpoint + path.decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        async with httpx.AsyncClient(timeout=300) as http:
            answer = await http.request(scope["method"], url, headers=headers, content=request.stream())
        # The body is passed on whole (decoded by httpx): its length and encoding are the new response's own.
        dropped = _NOT_FORWARDED | {b"content-length", b"content-encoding"}
        kept = {k: v for k, v in answer.headers.items() if k.lower().encode() not in dropped}
        await Response(answer.content, status_code=answer.status_code, headers=kept)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.site(scope, receive, send)
            return
        raw = bytes(scope.get("raw_path") or scope["path"].encode("utf-8"))
        if self.s3_endpoint is not None and raw.startswith(S3_PATH.encode() + b"/"):
            await self._s3(scope, receive, send, raw[len(S3_PATH) :])
            return
        host = _host(scope)
        if self.previews is not None and host.endswith("." + PREVIEW_DOMAIN):
            await self._preview(scope, receive, send, host)
            return
        raw_path = bytes(scope.get("raw_path") or scope["path"].encode("utf-8"))
        if _is_api_path(raw_path.split(b"?", 1)[0]):
            response = await self.gateway.handle(Request(scope, receive))
            await response(scope, receive, _adding_headers(send, self.api_headers))
        else:
            await self.site(scope, receive, _adding_headers(send, self.site_headers))


async def _in_thread(func: Any, *args: Any) -> Any:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(func, *args)
