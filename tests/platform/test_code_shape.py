"""The shape every function keeps (ARCHITECTURE.md): app.py is wiring, permission decisions go
through the permission table, request bodies refuse unstorable text, tests reach handlers only
through HTTP, and docs/routes.md indexes the routes as they are."""

from __future__ import annotations

import ast
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from devstack.openapi import http_apps, route_index
from devstack.template import REPO_ROOT, Template
from mm_common.models import RequestModel

TEMPLATE = Template.load()
HTTP_FUNCTIONS = [spec for spec in TEMPLATE.functions() if spec.routes]
FUNCTIONS_DIR = REPO_ROOT / "functions"
TESTS_DIR = REPO_ROOT / "tests"
HANDLER_PACKAGES = {path.name for path in FUNCTIONS_DIR.glob("*/*_fn") if path.is_dir()}


def _relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def _python_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


# ------------------------------------------------------------------------- app.py is wiring
SQL_STATEMENT = re.compile(
    r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS\s*\()\b",
    re.IGNORECASE | re.DOTALL,
)
WIRING_CALLS = {"create_app", "lambda_handler", "require_settings"}


def _called_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        function = node.func
        if isinstance(function, ast.Name):
            return function.id
        if isinstance(function, ast.Attribute):
            return function.attr
    return ""


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def _is_wiring_call(node: ast.stmt) -> bool:
    """``app.include_router(...)`` or ``require_settings(...)``, or a loop of include_router calls."""
    if isinstance(node, ast.Expr):
        return _called_name(node.value) in {"include_router", "require_settings"}
    if isinstance(node, ast.For):
        return all(isinstance(inner, ast.Expr) and _called_name(inner.value) == "include_router" for inner in node.body)
    return False


def _wiring_problems(tree: ast.Module) -> list[str]:
    """Top-level statements of an app.py other than imports, constants, ``app = create_app(...)``,
    ``app.include_router(...)`` (also in a loop over routers), ``require_settings(...)`` and
    ``handler = lambda_handler(app)``."""
    problems = []
    for index, node in enumerate(tree.body):
        where = f"line {node.lineno}"
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            if _is_literal(node.value) or _called_name(node.value) in WIRING_CALLS:
                continue
            problems.append(f"{where}: an assignment that is not wiring")
        elif _is_wiring_call(node):
            continue
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            problems.append(f"{where}: defines {node.name}() (routes and helpers belong in routes/ or service)")
        elif isinstance(node, ast.ClassDef):
            problems.append(f"{where}: defines class {node.name} (models belong in schemas.py)")
        else:
            problems.append(f"{where}: a {type(node).__name__} statement")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STATEMENT.search(node.value):
            problems.append(f"line {node.lineno}: SQL ({node.value.strip().splitlines()[0][:60]!r})")
    return problems


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=[spec.logical_id for spec in HTTP_FUNCTIONS])
def test_an_http_functions_app_module_is_wiring_only(spec: Any) -> None:
    module_path = spec.code_dir / (spec.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
    problems = _wiring_problems(ast.parse(module_path.read_text(encoding="utf-8")))
    assert not problems, f"{_relative(module_path)} is more than wiring:\n" + "\n".join(problems)


def test_the_wiring_check_finds_sql_and_route_handlers() -> None:
    """Negative control for the check above."""
    wiring = 'app = create_app("x")\napp.include_router(r.router)\nhandler = lambda_handler(app)\n'
    assert _wiring_problems(ast.parse(wiring)) == []
    route = '@app.get("/x")\ndef x() -> None:\n    db.fetch_one("SELECT id FROM projects WHERE id = %s")\n'
    problems = _wiring_problems(ast.parse(wiring + route))
    assert any("defines x()" in p for p in problems) and any("SQL" in p for p in problems)


# ------------------------------------------------------------------------- no role names in functions/
ROLE_NAMES = {"admin", "co_admin", "owner", "member", "viewer"}
ROLE_ENUMS = {"GlobalRole", "OrgRole"}


def _is_role_enum_member(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ROLE_ENUMS


def _role_literals(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in ROLE_NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_role_literals(element) or _is_role_enum_member(element) for element in node.elts)
    return False


def _mentions_role(node: ast.expr) -> bool:
    """An expression that reads a role: ``x.role``, ``role``, ``member_role``, ``row["role"]``."""
    for part in ast.walk(node):
        if isinstance(part, ast.Attribute) and "role" in part.attr.lower():
            return True
        if isinstance(part, ast.Name) and "role" in part.id.lower():
            return True
        if isinstance(part, ast.Constant) and isinstance(part.value, str) and "role" in part.value.lower():
            return True
    return False


def role_comparisons(source: str) -> list[int]:
    """Lines comparing with a role enum member, or comparing something that reads a role with a
    role name (``==``, ``!=``, ``in``, ``not in``, ``is``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        with_enum = any(_is_role_enum_member(o) or _is_role_enum_member_in(o) for o in operands)
        with_name = any(_role_literals(o) for o in operands) and any(_mentions_role(o) for o in operands)
        if with_enum or with_name:
            lines.append(node.lineno)
    return lines


def _is_role_enum_member_in(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple | ast.List | ast.Set) and any(_is_role_enum_member(e) for e in node.elts)


def test_functions_make_no_permission_decision_by_role_name() -> None:
    """Permission decisions go through the permission table (caller.may / ensure / grant_action),
    never through comparisons with role names."""
    found = [
        f"{_relative(path)}:{line}"
        for path in _python_files(FUNCTIONS_DIR)
        for line in role_comparisons(path.read_text(encoding="utf-8"))
    ]
    assert not found, "role-name comparisons (use the permission table):\n" + "\n".join(found)


def test_the_role_comparison_check_finds_each_form() -> None:
    """Negative control for the check above."""
    offending = [
        "if caller.role == GlobalRole.ADMIN: pass",
        "if membership.role in (OrgRole.OWNER, OrgRole.ADMIN): pass",
        'if row["role"] != "owner": pass',
        'ok = member_role in {"admin", "owner"}',
        'if "viewer" == target.role: pass',
    ]
    for source in offending:
        assert role_comparisons(source) == [1], source
    harmless = ['if role != before["role"]: pass', 'if kind == "admin_note": pass', 'if name == "owner": pass']
    for source in harmless:
        assert role_comparisons(source) == [], source


# ------------------------------------------------------------------------- request bodies
def _body_params(dependant: Any) -> list[Any]:
    """The body parameters of a route and of every dependency it declares."""
    return [*dependant.body_params, *(p for sub in dependant.dependencies for p in _body_params(sub))]


def _body_models(route: Any) -> list[Any]:
    annotations = []
    for field in _body_params(route.dependant):
        annotation = field.field_info.annotation
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        while typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        annotations.append(annotation)
    return annotations


def test_every_request_body_model_refuses_unstorable_text() -> None:
    """Each route's body model subclasses RequestModel (NUL and lone surrogates anywhere: 422)."""
    bodies = []
    offending = []
    for logical_id, app in http_apps().items():
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute):
                continue
            for model in _body_models(route):
                label = f"{logical_id} {sorted(route.methods or ())} {route.path_format}: {model!r}"
                bodies.append(label)
                if not (isinstance(model, type) and issubclass(model, RequestModel)):
                    offending.append(label)
    assert bodies, "no route has a body: the check would pass vacuously"
    assert not offending, "request bodies that are not RequestModel:\n" + "\n".join(offending)


# ------------------------------------------------------------------------- tests use HTTP
def handler_imports(source: str) -> list[tuple[int, str]]:
    """Imports of a function's handler modules: any ``<x>_fn`` module except its service
    (``<x>_fn.service``, ``<x>_fn.service.<part>``), which pure-rule unit tests may import."""

    def forbidden(module: str) -> bool:
        package, _, rest = module.partition(".")
        return package in HANDLER_PACKAGES and not (rest == "service" or rest.startswith("service."))

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if forbidden(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in HANDLER_PACKAGES:  # from projects_fn import service, routes
                found += [
                    (node.lineno, f"{node.module}.{alias.name}")
                    for alias in node.names
                    if forbidden(f"{node.module}.{alias.name}")
                ]
            elif forbidden(node.module):
                found.append((node.lineno, node.module))
    return found


def test_tests_do_not_import_handler_modules() -> None:
    """Tests observe handlers through HTTP (the local gateway), not by importing app, routes or
    schemas; a unit test of a pure rule may import the service module."""
    found = [
        f"{_relative(path)}:{line} imports {module}"
        for path in _python_files(TESTS_DIR)
        for line, module in handler_imports(path.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


def test_the_handler_import_check_finds_each_form() -> None:
    """Negative control for the check above."""
    assert {"projects_fn", "auth_fn"} <= HANDLER_PACKAGES
    offending = [
        "import projects_fn.app",
        "from projects_fn.routes.files import put_file",
        "from projects_fn import schemas",
        "from auth_fn.sessions import x",
    ]
    for source in offending:
        assert len(handler_imports(source)) == 1, source
    allowed = ["from projects_fn import service", "from auth_fn.service.users import x", "import probe_fn.app"]
    for source in allowed:
        assert handler_imports(source) == [], source


# ------------------------------------------------------------------------- the route index
def test_the_committed_route_index_is_current() -> None:
    committed = REPO_ROOT / "docs" / "routes.md"
    assert committed.exists(), "run `make openapi` and commit docs/routes.md"
    assert committed.read_text(encoding="utf-8") == route_index(), "run `make openapi` and commit docs/routes.md"


def test_the_route_index_lists_each_route_once_with_its_action() -> None:
    rows = re.findall(r"^\| `([A-Z]+ /[^`]*)` \|.*\| (.+) \|$", route_index(), re.MULTILINE)
    routes = [route for route, _ in rows]
    assert routes and len(routes) == len(set(routes))
    assert all(action != "none" for _, action in rows), [route for route, action in rows if action == "none"]
