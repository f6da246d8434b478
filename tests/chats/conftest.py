"""Fixtures of the chats tests: an owner, their organization and a project."""

from __future__ import annotations

import uuid

import pytest

from mm_common import db as mm_db
from mm_common.ai.catalog import seed_catalog
from tests.chats.support import DB, User, make_project
from tests.support.identity import make_organization, make_user


@pytest.fixture(autouse=True)
def _ai_catalog(database_url: str) -> None:
    """Posting a message starts a generation job, which needs a model in the catalog."""
    with mm_db.transaction() as conn:
        seed_catalog(conn)


@pytest.fixture
def owner(db: DB) -> User:
    return make_user(db, full_name="Olive Owner")


@pytest.fixture
def org(db: DB, owner: User) -> uuid.UUID:
    return make_organization(db, owner, name="Acme")


@pytest.fixture
def project(db: DB, org: uuid.UUID) -> uuid.UUID:
    return make_project(db, org)
