"""python -m mmctl {migrate,create-admin,seed-catalog,openapi} — works against any DATABASE_URL."""

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
