"""Billing webhook (issue 12) against the Stripe emulator, through the gateway and the real webhook function:

1. **handling time** of ``POST /api/billing/webhook``: a few hundred signed events (subscription updated,
   invoice.paid, duplicates, types the webhook does not handle) posted one at a time, p50/p95 as the client
   sees them and the same excluding the time spent in Stripe calls (the webhook re-reads the subscription and
   the invoice from Stripe);
2. **order independence**: a realistic history (checkouts through our API and the emulator's Pay, renewals,
   failed payments and 3-D Secure, recoveries, plan switches and cancellations at period end in the portal,
   periods ending, re-subscriptions) of many organizations, ~1,000 events, delivered live by the emulator; then,
   the history complete, replayed to the webhook in creation order into a fresh state (the organizations as
   created: Free, no Stripe customer; no invoices; an empty ``subscription_events``), then in a seeded random
   order, then newest first, each into a fresh state again: all must end in the in-order replay's
   organizations' subscription fields, invoices and event ledger, as must the live delivery.

    python bench/billing.py [--events 1000] [--sample 300] [--seed 7] [--trial-days 0]

Runs an in-process stack of its own (its Stripe emulator; the workers do not run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from unittest import mock

import httpx
from harness import in_process_stack, percentile, signed_in_token

if TYPE_CHECKING:
    from devstack.stripe import StripeEmulator

WEBHOOK = "/api/billing/webhook"
TARGET_P95_EXCLUDING_STRIPE_MS = 50.0
MIX = {"subscription updated": 35, "invoice.paid": 35, "duplicate": 15, "unhandled type": 15}
# Organization columns the webhook writes (mm_common.billing.apply_subscription, link_customer).
ORGANIZATION_FIELDS = (
    "stripe_customer_id",
    "stripe_subscription_id",
    "stripe_price_id",
    "subscription_tier",
    "subscription_status",
    "subscription_interval",
    "trial_ends_at",
    "current_period_end",
    "cancel_at_period_end",
    "past_due_since",
    "stripe_last_event_at",
)
INVOICE_FIELDS = (
    "organization_id",
    "stripe_subscription_id",
    "number",
    "amount_due",
    "amount_paid",
    "currency",
    "status",
    "hosted_invoice_url",
    "invoice_pdf",
    "due_date",
    "paid_at",
    "period_start",
    "period_end",
    "created_at",
)

Json = dict[str, Any]


def ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered {response.status_code}: {response.text}"
        )
    return response


# ------------------------------------------------------------------------------------------ Stripe's share
class StripeTime:
    """The time the process spends in the Stripe SDK's HTTP calls: ``HTTPClient.request_with_retries`` (connect,
    send, wait for the emulator, read; the SDK's retries included), timed around every call of every client.
    Requests are posted one at a time, so what accumulates between a request's start and its answer is its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0.0
        self._calls = 0

    @contextmanager
    def installed(self) -> Iterator[StripeTime]:
        import stripe

        original = stripe.HTTPClient.request_with_retries

        def timed(client: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(client, *args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - start) * 1000
                with self._lock:
                    self._ms += elapsed
                    self._calls += 1

        with mock.patch.object(stripe.HTTPClient, "request_with_retries", timed):
            yield self

    def take(self) -> tuple[float, int]:
        """(ms, calls) since the last take."""
        with self._lock:
            taken = (self._ms, self._calls)
            self._ms, self._calls = 0.0, 0
        return taken


@dataclass
class Posted:
    kind: str
    total_ms: float
    stripe_ms: float
    stripe_calls: int
    emulator_requests: int  # the API calls the emulator logged meanwhile (a cross-check of stripe_calls)
    duplicate: bool

    @property
    def own_ms(self) -> float:
        return self.total_ms - self.stripe_ms


class Webhook:
    """Posts events to the webhook as Stripe does: the JSON body, signed now with the endpoint's secret."""

    def __init__(self, http: httpx.Client, emulator: StripeEmulator, timer: StripeTime) -> None:
        self.http = http
        self.emulator = emulator
        self.timer = timer

    def post(self, event: Json, kind: str) -> Posted:
        import stripe

        body = json.dumps(event)
        signature = stripe.WebhookSignature.generate_signature_header(
            body, self.emulator.webhook_secret, timestamp=int(time.time())
        )
        headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature}
        self.timer.take()
        logged = len(self.emulator.requests)
        start = time.perf_counter()
        response = self.http.post(WEBHOOK, content=body.encode(), headers=headers)
        total = (time.perf_counter() - start) * 1000
        stripe_ms, calls = self.timer.take()
        ok(response)
        duplicate = bool(response.json()["duplicate"])
        return Posted(kind, total, stripe_ms, calls, len(self.emulator.requests) - logged, duplicate)


# ------------------------------------------------------------------------------------------ set-up
def seed_owner() -> tuple[Any, str]:
    from mm_common import db
    from mm_common.passwords import hash_password

    email = f"bench-billing-{uuid.uuid4().hex[:8]}@example.com"
    with db.transaction() as conn:
        user = conn.execute(
            "INSERT INTO users (email, password_hash, email_verified, full_name) VALUES (%s, %s, TRUE, 'Bench Owner')"
            " RETURNING id",
            (email, hash_password("bench-passphrase-1")),
        ).fetchone()
    assert user is not None
    return user["id"], email


@dataclass
class Organization:
    id: str
    name: str
    subscription: str = ""  # the live (or last) one


def new_organization(owner_id: Any, number: int) -> Organization:
    from mm_common import db

    name = f"Billing {number:02d}"
    with db.transaction() as conn:
        org = conn.execute(
            "INSERT INTO organizations (name, slug, owner_id) VALUES (%s, %s, %s) RETURNING id",
            (name, f"bench-billing-{number:02d}-{uuid.uuid4().hex[:6]}", owner_id),
        ).fetchone()
        assert org is not None
        conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES (%s, %s, 'owner')",
            (org["id"], owner_id),
        )
    return Organization(str(org["id"]), name)


# ------------------------------------------------------------------------------------------ the history
# Steps of an organization's life, each the way it happens: Checkout and the portal through our API and the
# emulator's hosted-page actions, the passage of time through advance_period (a test clock).
FIXED_LIVES = [
    ["renew", "renew", "renew"],
    ["renew", "fail", "pay", "renew"],
    ["renew", "fail"],  # left past due
    ["switch", "renew"],
    ["cancel", "end"],
    ["cancel", "end", "resubscribe", "renew"],
    ["action", "pay", "renew"],
    ["cancel", "uncancel", "renew", "switch", "cancel", "end"],
]


@dataclass
class History:
    organizations: list[Organization] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def open_invoices(emulator: StripeEmulator, subscription_id: str) -> list[str]:
    return [
        str(invoice["id"])
        for invoice in list(emulator.invoices.values())
        if invoice["status"] == "open" and invoice["parent"]["subscription_details"]["subscription"] == subscription_id
    ]


def choose_step(rng: random.Random, emulator: StripeEmulator, subscription_id: str) -> str:
    subscription = emulator.subscriptions[subscription_id]
    if subscription["status"] == "canceled":
        return "resubscribe"
    if subscription["cancel_at_period_end"]:
        return rng.choice(["end", "end", "uncancel"])
    if open_invoices(emulator, subscription_id):
        return rng.choice(["pay", "pay", "renew", "cancel"])
    return rng.choices(["renew", "fail", "action", "switch", "cancel"], weights=[6, 1, 1, 1, 1])[0]


def checkout(http: httpx.Client, emulator: StripeEmulator, org: Organization, interval: str) -> None:
    """Checkout through our API (it creates the customer once), paid on the emulator's hosted page."""
    body = {"organizationId": org.id, "tier": "pro", "interval": interval}
    url = ok(http.post("/api/billing/checkout", json=body)).json()["url"]
    session_id = url.rstrip("/").rsplit("/", 1)[-1]
    emulator.pay_checkout(session_id)
    org.subscription = str(emulator.checkout_sessions[session_id]["subscription"])


def portal(http: httpx.Client, emulator: StripeEmulator, org: Organization, action: str) -> None:
    """A portal session through our API; the button ``action`` (cancel, renew, switch) on its page."""
    url = ok(http.post("/api/billing/portal", json={"organizationId": org.id})).json()["url"]
    emulator.portal_action(url.rstrip("/").rsplit("/", 1)[-1], action, org.subscription)


def take_step(http: httpx.Client, emulator: StripeEmulator, org: Organization, step: str, rng: random.Random) -> None:
    sub = org.subscription
    if step in ("renew", "end"):
        emulator.advance_period(sub)
    elif step == "fail":
        emulator.fail_next_payment(sub)
        emulator.advance_period(sub)
    elif step == "action":
        emulator.require_action(sub)
        emulator.advance_period(sub)
    elif step == "pay":
        for invoice_id in open_invoices(emulator, sub):
            emulator.pay_invoice(invoice_id)
    elif step in ("switch", "cancel", "uncancel"):
        portal(http, emulator, org, {"switch": "switch", "cancel": "cancel", "uncancel": "renew"}[step])
    elif step == "resubscribe":
        checkout(http, emulator, org, rng.choice(["month", "year"]))
    else:
        raise ValueError(step)


def build_history(
    http: httpx.Client, emulator: StripeEmulator, owner_id: Any, target_events: int, rng: random.Random
) -> History:
    """Organizations live their lives until the emulator has ``target_events`` events; the emulator delivers
    each one to the webhook as it happens (the live run)."""
    history = History()
    start = time.perf_counter()
    while len(emulator.events) < target_events:
        number = len(history.organizations)
        org = new_organization(owner_id, number + 1)
        history.organizations.append(org)
        checkout(http, emulator, org, "year" if number % 4 == 3 else "month")
        history.steps["checkout"] = history.steps.get("checkout", 0) + 1
        fixed = FIXED_LIVES[number] if number < len(FIXED_LIVES) else None
        for index in range(len(fixed) if fixed else rng.randint(1, 7)):
            step = fixed[index] if fixed else choose_step(rng, emulator, org.subscription)
            take_step(http, emulator, org, step, rng)
            history.steps[step] = history.steps.get(step, 0) + 1
    history.seconds = time.perf_counter() - start
    return history


# ------------------------------------------------------------------------------------------ state
@dataclass
class State:
    organizations: dict[str, dict[str, Any]]  # org id → the webhook's fields
    invoices: dict[str, dict[str, Any]]  # Stripe invoice id → row
    ledger: dict[str, Any]  # Stripe event id → the organization it was recorded for


def snapshot(org_ids: list[str]) -> State:
    from mm_common import db

    with db.transaction() as conn:
        orgs = conn.execute(
            f"SELECT id, {', '.join(ORGANIZATION_FIELDS)} FROM organizations WHERE id = ANY(%s::uuid[])",
            (org_ids,),
        ).fetchall()
        invoices = conn.execute(
            f"SELECT stripe_invoice_id, {', '.join(INVOICE_FIELDS)} FROM invoices"
            " WHERE organization_id = ANY(%s::uuid[])",
            (org_ids,),
        ).fetchall()
        ledger = conn.execute("SELECT stripe_event_id, organization_id FROM subscription_events").fetchall()
    organizations = {}
    for row in orgs:
        fields = {name: row[name] for name in ORGANIZATION_FIELDS}
        # The moment the webhook first saw the subscription past due (its clock, not Stripe's): a replay sets
        # it to the replay's own time whatever the order, so compared as set or not.
        fields["past_due_since"] = "set" if fields["past_due_since"] is not None else None
        organizations[str(row["id"])] = fields
    return State(
        organizations,
        {row["stripe_invoice_id"]: {name: row[name] for name in INVOICE_FIELDS} for row in invoices},
        {row["stripe_event_id"]: row["organization_id"] for row in ledger},
    )


def reset(org_ids: list[str]) -> None:
    """A fresh state: the organizations as created (Free, no customer), no invoices, nothing in the ledger."""
    from mm_common import db

    with db.transaction() as conn:
        conn.execute(
            """
            UPDATE organizations
            SET stripe_customer_id = NULL, stripe_subscription_id = NULL, stripe_price_id = NULL,
                subscription_tier = 'free', subscription_status = 'active', subscription_interval = NULL,
                trial_ends_at = NULL, current_period_end = NULL, cancel_at_period_end = FALSE,
                past_due_since = NULL, stripe_last_event_at = NULL
            WHERE id = ANY(%s::uuid[])
            """,
            (org_ids,),
        )
        conn.execute("DELETE FROM invoices WHERE organization_id = ANY(%s::uuid[])", (org_ids,))
        conn.execute("DELETE FROM subscription_events")


def shown(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


def differences(expected: State, actual: State, names: dict[str, str]) -> list[str]:
    found = []
    for org_id, fields in expected.organizations.items():
        other = actual.organizations.get(org_id, {})
        for name, value in fields.items():
            if other.get(name) != value:
                found.append(f"{names[org_id]}: {name} {shown(value)} ≠ {shown(other.get(name))}")
    for invoice_id in sorted(set(expected.invoices) | set(actual.invoices)):
        mine, theirs = expected.invoices.get(invoice_id), actual.invoices.get(invoice_id)
        if mine is None or theirs is None:
            found.append(f"invoice {invoice_id}: {'missing' if theirs is None else 'extra'}")
            continue
        for name, value in mine.items():
            if theirs[name] != value:
                found.append(f"invoice {invoice_id}: {name} {shown(value)} ≠ {shown(theirs[name])}")
    for event_id in sorted(set(expected.ledger) | set(actual.ledger)):
        if event_id not in actual.ledger or event_id not in expected.ledger:
            found.append(f"event {event_id}: {'not recorded' if event_id not in actual.ledger else 'extra'}")
        elif expected.ledger[event_id] != actual.ledger[event_id]:
            found.append(f"event {event_id}: organization {expected.ledger[event_id]} ≠ {actual.ledger[event_id]}")
    return found


# ------------------------------------------------------------------------------------------ the measures
def handled_types() -> frozenset[str]:
    from billing_webhook_fn.service import HANDLERS

    return frozenset(HANDLERS)


def sample_mix(events: list[Json], size: int, rng: random.Random) -> list[tuple[str, Json]]:
    """``size`` (kind, event) in a random order: each updated / invoice.paid / unhandled event at most once
    (its first delivery), duplicates re-sending one of those already chosen."""
    handled = handled_types()
    pools = {
        "subscription updated": [e for e in events if e["type"] == "customer.subscription.updated"],
        "invoice.paid": [e for e in events if e["type"] == "invoice.paid"],
        "unhandled type": [e for e in events if e["type"] not in handled],
    }
    for pool in pools.values():
        rng.shuffle(pool)
    chosen: list[tuple[str, Json]] = []
    kinds, weights = list(MIX), list(MIX.values())
    while len(chosen) < size:
        kind = rng.choices(kinds, weights=weights)[0]
        if kind == "duplicate":
            if chosen:
                chosen.append(("duplicate", rng.choice([e for k, e in chosen if k != "duplicate"])))
        elif pools[kind]:
            chosen.append((kind, pools[kind].pop()))
    return chosen


@dataclass
class Replay:
    label: str
    name: str
    posted: list[Posted]
    seconds: float
    state: State


def replay(webhook: Webhook, events: list[Json]) -> tuple[list[Posted], float]:
    start = time.perf_counter()
    posted = [webhook.post(event, str(event["type"])) for event in events]
    return posted, time.perf_counter() - start


# ------------------------------------------------------------------------------------------ output
def p(values: list[float], q: float) -> float:
    return float(percentile(values, q)) if values else float("nan")


def timing_row(label: str, rows: list[Posted]) -> str:
    total = [r.total_ms for r in rows]
    stripe = [r.stripe_ms for r in rows]
    own = [r.own_ms for r in rows]
    calls = statistics.fmean(r.stripe_calls for r in rows) if rows else float("nan")
    return (
        f"{label:<24}{len(rows):>6}{p(total, 50):>9.1f}{p(total, 95):>9.1f}{p(stripe, 50):>9.1f}{p(stripe, 95):>9.1f}"
        f"{p(own, 50):>9.1f}{p(own, 95):>9.1f}{calls:>8.2f}"
    )


def timing_header() -> str:
    return (
        f"{'':<30}{'end to end':>18}{'in Stripe calls':>18}{'excluding Stripe':>18}{'Stripe':>8}\n"
        f"{'':<24}{'n':>6}{'p50':>9}{'p95':>9}{'p50':>9}{'p95':>9}{'p50':>9}{'p95':>9}{'calls':>8}"
    )


def print_mix(rows: list[Posted]) -> None:
    print(f"\nWebhook handling time: {len(rows)} signed events posted one at a time through the gateway (ms)")
    print(timing_header())
    for kind in MIX:
        print(timing_row(kind, [r for r in rows if r.kind == kind]))
    print(timing_row("all", rows))


def print_replays(runs: list[Replay]) -> None:
    print("\nReplays of the whole history, each into a fresh state (ms per event; the replay's wall time)")
    print(timing_header())
    for run in runs:
        print(
            timing_row(run.label, run.posted) + f"   {run.seconds:.1f} s, {len(run.posted) / run.seconds:.0f} events/s"
        )


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def print_comparison(label: str, found: list[str], state: State) -> None:
    compared = (
        f"{len(state.organizations)} organizations × {len(ORGANIZATION_FIELDS)} fields, "
        f"{len(state.invoices)} invoices, {len(state.ledger)} ledger rows"
    )
    print(f"{label}: {compared}: {len(found)} difference(s)")
    for line in found[:12]:
        print(f"  {line}")
    if len(found) > 12:
        print(f"  … and {len(found) - 12} more")


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000, help="events of the history (default 1000)")
    parser.add_argument("--sample", type=int, default=300, help="events of the timed mix (default 300)")
    parser.add_argument("--seed", type=int, default=7, help="the history's steps, the mix and the shuffle")
    parser.add_argument("--trial-days", type=int, default=0, help="BILLING_TRIAL_DAYS of a first Checkout (0)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    timer = StripeTime()
    with in_process_stack(run_workers=False) as (stack, base), timer.installed():
        assert stack.stripe is not None
        emulator = stack.stripe.emulator
        # The history's API calls (a Checkout and portal sessions per organization) from one user.
        os.environ["RATE_LIMIT_API_PER_MINUTE"] = "1000000"
        os.environ["BILLING_TRIAL_DAYS"] = str(args.trial_days)
        from mm_common.config import get_settings

        get_settings.cache_clear()
        owner_id, email = seed_owner()
        token = signed_in_token(owner_id, email)
        with (
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as api,
            httpx.Client(base_url=base, timeout=120) as stripe_side,
        ):
            print(f"\nbuilding a history of {args.events:,} events (delivered live by the emulator, in its thread)")
            history = build_history(api, emulator, owner_id, args.events, rng)
            emulator.deliver_pending()
            failed = [d for d in emulator.deliveries if not d.ok]
            emulator.configure_webhook(None)  # from here on, the bench posts the events itself
            events = list(emulator.events.values())
            org_ids = [org.id for org in history.organizations]
            names = {org.id: org.name for org in history.organizations}
            live = snapshot(org_ids)
            steps = ", ".join(f"{name} {n}" for name, n in sorted(history.steps.items()))
            print(
                f"  {len(events):,} events of {len(org_ids)} organizations in {history.seconds:.1f} s"
                f" ({steps}); {len(failed)} failed deliveries, {len(emulator.pending_deliveries())} pending"
            )
            types: dict[str, int] = {}
            for event in events:
                types[event["type"]] = types.get(event["type"], 0) + 1
            print("  " + ", ".join(f"{name} {n}" for name, n in sorted(types.items())))

            webhook = Webhook(stripe_side, emulator, timer)
            reset(org_ids)
            mix = [webhook.post(event, kind) for kind, event in sample_mix(events, args.sample, rng)]
            wrong = [r for r in mix if r.duplicate != (r.kind == "duplicate")]

            shuffled = list(events)
            random.Random(args.seed).shuffle(shuffled)
            orders = [
                ("in creation order", "in-order replay", events),
                (f"shuffled (seed {args.seed})", "shuffled replay", shuffled),
                ("newest first", "newest-first replay", events[::-1]),
            ]
            replays: list[Replay] = []
            for label, name, ordered_events in orders:
                reset(org_ids)
                posted, seconds = replay(webhook, ordered_events)
                replays.append(Replay(label, name, posted, seconds, snapshot(org_ids)))
    every = mix + [row for run in replays for row in run.posted]
    timed_calls = sum(r.stripe_calls for r in every)
    logged_calls = sum(r.emulator_requests for r in every)

    print_mix(mix)
    if wrong:
        print(f"  ({len(wrong)} answer(s) with an unexpected duplicate flag)")
    print_replays(replays)

    print("\nFinal states, compared with the in-order replay's")
    reference = replays[0].state
    compared = [(run.name, differences(reference, run.state, names)) for run in replays[1:]]
    compared.append(("live delivery", differences(reference, live, names)))
    for label, found in compared:
        print_comparison(label, found, reference)
    tiers: dict[str, int] = {}
    for fields in reference.organizations.values():
        key = f"{fields['subscription_tier']}/{fields['subscription_status']}"
        tiers[key] = tiers.get(key, 0) + 1
    print("  (final organizations: " + ", ".join(f"{k} {n}" for k, n in sorted(tiers.items())) + ")")

    print(f"\n{'target':<56}{'measured':>14}{'':>4}result")
    for label, rows in (("the mix", mix), ("the replays", [row for run in replays for row in run.posted])):
        own = p([r.own_ms for r in rows], 95)
        target = f"{label}: p95 excluding Stripe < {TARGET_P95_EXCLUDING_STRIPE_MS:.0f} ms"
        print(f"{target:<56}{f'{own:.1f} ms':>14}{'':>4}{verdict(own < TARGET_P95_EXCLUDING_STRIPE_MS)}")
    for label, found in compared:
        target = f"{label} ends in the in-order state"
        print(f"{target:<56}{f'{len(found)} diffs':>14}{'':>4}{verdict(not found)}")
    print(
        "\nEnd to end = the client's POST until its answer (gateway, the webhook function, its transaction).\n"
        "In Stripe calls = time inside the Stripe SDK's HTTPClient.request_with_retries (patched in this process,\n"
        "where the stack runs the functions; connect, send, the emulator's work, read, retries) during that\n"
        f"request; events are posted one at a time, so it is the request's own. {timed_calls:,} calls timed,\n"
        f"{logged_calls:,} logged by the emulator. Excluding Stripe = end to end − in Stripe calls, per request.\n"
        "Compared: the organizations' subscription fields (past_due_since as set or not: the webhook's clock),\n"
        "their invoices by Stripe id, and the ledger (subscription_events: each event's organization)."
    )


if __name__ == "__main__":
    main()
