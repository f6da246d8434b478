"""Fixtures of the organizations tests: an owner and their organization."""

from __future__ import annotations

import uuid

import pytest

from tests.organizations.helpers import DB, User
from tests.support.identity import make_organization, make_user


@pytest.fixture
def owner(db: DB) -> User:
    return make_user(db, full_name="Olive Owner")


@pytest.fixture
def org(db: DB, owner: User) -> uuid.UUID:
    return make_organization(db, owner, name="Acme")
