"""Fixtures of the deploy tests that use the local stack: an owner and their organization."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.support.identity import Account, make_organization, make_user


@pytest.fixture
def owner(db: psycopg.Connection[Any]) -> Account:
    return make_user(db, full_name="Ada Lovelace")


@pytest.fixture
def org(db: psycopg.Connection[Any], owner: Account) -> Any:
    return make_organization(db, owner)
