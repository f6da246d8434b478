"""Limits on guessing passwords and on reset e-mails that do not lock out offices.

Failed sign-ins are counted per account (RATE_LIMIT_LOGIN_PER_15_MIN, 5) and per client address
(RATE_LIMIT_LOGIN_PER_IP_PER_15_MIN, 50: an office or a mobile network shares one address);
successful ones are not counted, and one clears the account's failures. Reset e-mails: 3 an
hour per address asked for, 30 per client address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from starlette.testclient import TestClient

from tests.support.identity import PASSWORD, make_user

OFFICE = "203.0.113.10"
HOME = "198.51.100.20"
ClientAt = Callable[[str], TestClient]


def _sign_in(client: TestClient, email: str, password: str = PASSWORD) -> int:
    return client.post("/api/auth/login", json={"email": email, "password": password}).status_code


def test_six_colleagues_behind_one_address_all_sign_in(
    client_at: ClientAt, db: psycopg.Connection[Any], still_clock: float
) -> None:
    office = client_at(OFFICE)
    colleagues = [make_user(db, f"colleague{i}@example.com").email for i in range(6)]
    assert [_sign_in(office, email) for email in colleagues] == [200] * 6
    # ... and again after lunch, on their phones.
    assert [_sign_in(office, email) for email in colleagues] == [200] * 6


def test_one_person_signs_in_on_six_devices(
    client_at: ClientAt, db: psycopg.Connection[Any], still_clock: float
) -> None:
    user = make_user(db, "busy@example.com")
    devices = [client_at(f"192.0.2.{i}") for i in range(1, 4)] + [client_at(OFFICE)] * 3
    assert [_sign_in(device, user.email) for device in devices] == [200] * 6


def test_five_failures_lock_the_account_even_for_the_right_password(
    client_at: ClientAt, db: psycopg.Connection[Any], still_clock: float
) -> None:
    user = make_user(db, "hank@example.com")
    attacker, owner = client_at("192.0.2.66"), client_at(HOME)
    assert [_sign_in(attacker, user.email, "wrong-password") for _ in range(5)] == [401] * 5

    for client in (attacker, owner):  # the account is locked, whoever asks from wherever
        limited = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) == 450  # the rest of the 15-minute window
    # Refused attempts did not sign anyone in, and other accounts are not affected.
    signed_in = db.execute("SELECT count(*) FROM sessions WHERE user_id = %s AND ip_address IS NOT NULL", (user.id,))
    assert signed_in.fetchone() == (0,)  # (the helper's own session row has no address)
    other = make_user(db, "other@example.com")
    assert _sign_in(attacker, other.email) == 200


def test_a_successful_sign_in_clears_the_accounts_failures(
    client_at: ClientAt, db: psycopg.Connection[Any], still_clock: float
) -> None:
    user = make_user(db, "typo@example.com")
    client = client_at(HOME)
    statuses = [_sign_in(client, user.email, "wrong-password") for _ in range(4)]
    statuses.append(_sign_in(client, user.email))
    statuses += [_sign_in(client, user.email, "wrong-password") for _ in range(4)]
    statuses.append(_sign_in(client, user.email))
    assert statuses == [401] * 4 + [200] + [401] * 4 + [200]


def test_failures_from_one_address_are_limited_across_accounts(
    client_at: ClientAt, db: psycopg.Connection[Any], still_clock: float, configure: Any
) -> None:
    configure(RATE_LIMIT_LOGIN_PER_IP_PER_15_MIN="3")
    victim = make_user(db, "victim@example.com")
    sprayer, elsewhere = client_at("192.0.2.99"), client_at(HOME)
    # Successes do not count against the address...
    assert [_sign_in(sprayer, victim.email) for _ in range(4)] == [200] * 4
    # ... failures do, whichever account they guess at.
    assert [_sign_in(sprayer, f"guess{i}@example.com", "wrong-password") for i in range(3)] == [401] * 3
    assert _sign_in(sprayer, victim.email) == 429
    assert _sign_in(elsewhere, victim.email) == 200  # the account itself is not locked


def test_the_per_address_limit_is_higher_than_the_per_account_one(
    client_at: ClientAt, db: psycopg.Connection[Any], still_clock: float
) -> None:
    office = client_at(OFFICE)
    users = [make_user(db, f"forgetful{i}@example.com") for i in range(3)]
    # Three people mistype their password four times each: twelve failures from one address.
    for user in users:
        assert [_sign_in(office, user.email, "wrong-password") for _ in range(4)] == [401] * 4
    assert [_sign_in(office, user.email) for user in users] == [200] * 3


def test_reset_emails_are_limited_per_address_asked_for(client: TestClient, still_clock: float) -> None:
    statuses = [
        client.post("/api/auth/forgot-password", json={"email": "ivy@example.com"}).status_code for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]


def test_one_office_can_ask_for_many_reset_emails(
    client_at: ClientAt, db: psycopg.Connection[Any], still_clock: float
) -> None:
    office = client_at(OFFICE)
    emails = [make_user(db, f"office-reset{i}@example.com").email for i in range(6)]
    statuses = [office.post("/api/auth/forgot-password", json={"email": e}).status_code for e in emails]
    assert statuses == [202] * 6
    assert sorted(m["to"] for m in office.get("/dev/mail.json").json() if m["to"] in emails) == sorted(emails)


def test_reset_emails_per_client_address_are_configurable(
    client_at: ClientAt, db: psycopg.Connection[Any], still_clock: float, configure: Any
) -> None:
    configure(RATE_LIMIT_PASSWORD_RESET_PER_IP_PER_HOUR="2")
    office, home = client_at(OFFICE), client_at(HOME)
    emails = [make_user(db, f"limited-reset{i}@example.com").email for i in range(3)]
    statuses = [office.post("/api/auth/forgot-password", json={"email": e}).status_code for e in emails]
    assert statuses == [202, 202, 429]
    assert int(office.post("/api/auth/forgot-password", json={"email": emails[2]}).headers["retry-after"]) > 0
    assert home.post("/api/auth/forgot-password", json={"email": emails[2]}).status_code == 202
    mails = [m["to"] for m in office.get("/dev/mail.json").json() if m["to"] in emails]
    assert sorted(mails) == sorted(emails)  # one each: the refused requests sent nothing
