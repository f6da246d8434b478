"""python -m mmctl {migrate,create-admin,seed-catalog,maintenance,ban,unban,cleanup,openapi}: works against
any DATABASE_URL."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "layers" / "common"))


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit("Set DATABASE_URL to the Postgres to work on (use a direct endpoint, not RDS Proxy, to migrate).")
    return url


def cmd_migrate(_: argparse.Namespace) -> None:
    from mm_common.migrate import migrate

    applied = migrate(_database_url())
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    print("database is up to date" if not applied else f"{len(applied)} migration(s) applied")


def cmd_create_admin(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = _database_url()
    from mm_common.admin_bootstrap import ensure_admin

    password = args.password or os.environ.get("MM_ADMIN_PASSWORD", "")
    created = ensure_admin(args.email, password, args.name)
    print(f"admin {args.email} {'created' if created else 'already exists; left unchanged'}")


def cmd_seed_catalog(_: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = _database_url()
    from mm_common import db
    from mm_common.ai.catalog import seed_catalog

    with db.transaction() as conn:
        added = seed_catalog(conn)
    print(f"AI catalog: {added['providers']} provider(s) and {added['models']} model(s) added")


def cmd_maintenance(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = _database_url()
    from mm_common import audit, db, system_settings

    turn_on = args.state == "on"
    with db.transaction() as conn:
        before = system_settings.load(conn).maintenance
        after = system_settings.Maintenance(on=turn_on, message=args.message if turn_on else before.message)
        if after != before:
            value = after.model_dump(mode="json")
            system_settings.store(conn, "maintenance", value, updated_by=None)
            audit.record(
                conn,
                "system_settings.update",
                meta=None,
                resource_type="system_setting",
                details={
                    "key": "maintenance",
                    "before": before.model_dump(mode="json"),
                    "after": value,
                    "via": "mmctl",
                },
            )
    # Each API container reads it again within its settings cache's TTL.
    print(f"maintenance mode is {args.state}" + (f": {after.shown_message}" if turn_on else ""))


def cmd_ban(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = _database_url()
    from mm_common import db, user_admin
    from mm_common.errors import ApiError

    banned = args.command == "ban"
    try:
        with db.transaction() as conn:
            changed = user_admin.operator_set_banned(conn, args.email, banned=banned, reason=args.reason)
    except ApiError as error:
        sys.exit(error.message)
    state = "banned" if banned else "not banned"
    # A ban takes effect at once: the user's sessions are revoked and their access tokens carry an old version.
    print(f"{args.email} is {state}" + ("" if changed else " (it already was)"))


def cmd_cleanup(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO_ROOT / "functions" / "maintenance"))
    from maintenance_fn.service import HOURLY, TASKS, Budget, run_cleanup

    if args.action == "list":
        for name in TASKS:
            print(f"{name}{'' if name in HOURLY else '  (not hourly: its own schedule)'}")
        return
    if not args.tasks:
        sys.exit("Name the task(s) to run, or 'all' (see: python -m mmctl cleanup list).")
    os.environ["DATABASE_URL"] = _database_url()
    try:
        report = run_cleanup(args.tasks, budget=Budget.seconds(args.budget))
    except ValueError as error:
        sys.exit(str(error))
    for task, counts in report.counts.items():
        print(f"{task}: " + (", ".join(f"{name} {value}" for name, value in counts.items()) or "nothing to do"))
    for task, failure in report.failed.items():
        print(f"{task}: FAILED ({failure})", file=sys.stderr)
    if report.failed:
        sys.exit(1)


def cmd_openapi(args: argparse.Namespace) -> None:
    from devstack.openapi import build_openapi, route_index

    document = json.dumps(build_openapi(), indent=2, sort_keys=False) + "\n"
    if args.output == "-":
        sys.stdout.write(document)
    else:
        Path(args.output).write_text(document, encoding="utf-8")
        print(f"wrote {args.output}")
    if args.routes:
        Path(args.routes).parent.mkdir(parents=True, exist_ok=True)
        Path(args.routes).write_text(route_index(), encoding="utf-8")
        print(f"wrote {args.routes}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="mmctl", description=__doc__)
    sub = parser.add_subparsers(required=True)
    sub.add_parser("migrate", help="apply pending migrations to DATABASE_URL").set_defaults(func=cmd_migrate)
    admin = sub.add_parser("create-admin", help="create a verified global admin if absent")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="defaults to $MM_ADMIN_PASSWORD")
    admin.add_argument("--name", default="Administrator")
    admin.set_defaults(func=cmd_create_admin)
    sub.add_parser("seed-catalog", help="add the built-in AI providers and models if missing").set_defaults(
        func=cmd_seed_catalog
    )
    maintenance = sub.add_parser("maintenance", help="turn maintenance mode on or off (non-admins get 503)")
    maintenance.add_argument("state", choices=["on", "off"])
    maintenance.add_argument("--message", default="", help="what refused requests and the maintenance page say")
    maintenance.set_defaults(func=cmd_maintenance)
    for command, text in (("ban", "ban a user: every sign-in ends at once"), ("unban", "lift a user's ban")):
        ban = sub.add_parser(command, help=text)
        ban.add_argument("email")
        if command == "ban":
            ban.add_argument("--reason", default=None, help="kept with the ban, shown to admins")
        ban.set_defaults(func=cmd_ban, command=command, reason=None)
    cleanup = sub.add_parser(
        "cleanup",
        help="run scheduled clean-up tasks now (with the AWS environment of the deployment: buckets, queues, panel)",
    )
    cleanup.add_argument("action", choices=["run", "list"])
    cleanup.add_argument("tasks", nargs="*", help="task names, or 'all'")
    cleanup.add_argument("--budget", type=float, default=900.0, help="seconds after which no new batch starts")
    cleanup.set_defaults(func=cmd_cleanup)
    openapi = sub.add_parser("openapi", help="write the whole API's OpenAPI 3.1 document and the route index")
    openapi.add_argument("--output", default=str(REPO_ROOT / "functions/system/system_fn/openapi.json"))
    openapi.add_argument(
        "--routes", default=str(REPO_ROOT / "docs/routes.md"), help="the route index (an empty value: skip it)"
    )
    openapi.set_defaults(func=cmd_openapi)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
