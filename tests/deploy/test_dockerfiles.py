"""What a version is built with: its own Dockerfile, or one generated for its type (a pure rule)."""

from __future__ import annotations

import json

from mm_common.deploy import dockerfiles


def package(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_the_projects_own_dockerfile_is_used_on_its_exposed_port() -> None:
    plan = dockerfiles.plan({"Dockerfile": b"FROM node:22\nEXPOSE 8080\n", "index.html": b"x"})
    assert plan.type == "dockerfile" and plan.port == 8080 and plan.generated == {}
    assert not plan.dockerfile_generated


def test_a_vite_app_builds_with_node_and_is_served_by_nginx_with_an_spa_fallback() -> None:
    files = {
        "package.json": package(scripts={"build": "vite build"}, devDependencies={"vite": "^8"}),
        "package-lock.json": b"{}",
    }
    plan = dockerfiles.plan(files)
    dockerfile = plan.generated["Dockerfile"].decode()
    assert plan.type == "vite" and plan.port == 80 and plan.dockerfile_generated
    assert "npm ci" in dockerfile and "npm run build" in dockerfile and "/app/dist " in dockerfile
    assert "FROM nginx" in dockerfile and "try_files $uri $uri/ /index.html" in plan.generated["nginx.conf"].decode()


def test_a_node_server_runs_npm_start_and_next_builds_first() -> None:
    node = dockerfiles.plan({"package.json": package(scripts={"start": "node server.js"})})
    assert node.type == "node" and node.port == 3000 and 'CMD ["npm", "start"]' in node.generated["Dockerfile"].decode()
    assert "npm run build" not in node.generated["Dockerfile"].decode()
    next_app = dockerfiles.plan(
        {"package.json": package(scripts={"build": "next build", "start": "next start"}, dependencies={"next": "15"})}
    )
    assert next_app.type == "next" and "npm run build" in next_app.generated["Dockerfile"].decode()


def test_plain_files_are_served_by_nginx_and_an_own_nginx_conf_is_kept() -> None:
    plan = dockerfiles.plan({"index.html": b"<h1>hi</h1>"})
    assert plan.type == "static" and plan.port == 80 and set(plan.generated) == {"Dockerfile", "nginx.conf"}
    own = dockerfiles.plan({"index.html": b"x", "nginx.conf": b"server {}"})
    assert set(own.generated) == {"Dockerfile"}
