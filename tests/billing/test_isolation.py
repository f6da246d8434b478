"""The Stripe webhook is a function of its own: reserved concurrency (a flood of events neither starves the API nor
scales past it) and a least-privilege policy (no signing key for user sessions, no buckets, no queues)."""

from __future__ import annotations

import json

from devstack.template import Template


def test_the_webhook_function_is_isolated_and_least_privileged() -> None:
    template = Template.load()
    webhook = template.resources["BillingWebhookFunction"]["Properties"]
    assert webhook["ReservedConcurrentExecutions"] == {"Ref": "WebhookReservedConcurrency"}
    assert webhook["Events"] == {
        "StripeWebhook": {
            "Type": "HttpApi",
            "Properties": {"ApiId": {"Ref": "HttpApi"}, "Path": "/api/billing/webhook", "Method": "POST"},
        }
    }
    policies = json.dumps(webhook["Policies"])
    for forbidden in ("JwtSigningKey", "S3", "SQS", "StepFunctions", "KMS", "EasypanelToken", "GiteaToken"):
        assert forbidden not in policies, forbidden
    for needed in ("DbSecretArn", "StripeSecretKeySecretArn", "StripeWebhookSecretArn", "ses:SendRawEmail"):
        assert needed in policies, needed
    # The billing API reads the Stripe key, never the webhook's signing secret.
    api = json.dumps(template.resources["BillingFunction"]["Properties"]["Policies"])
    assert "StripeSecretKeySecretArn" in api and "StripeWebhookSecretArn" not in api
