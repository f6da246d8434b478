"""The e-mails the platform sends: verification, password reset, invitation, deployments, billing."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from mm_common.config import get_settings
from mm_common.mailer import send_email


def app_link(path: str, **params: str) -> str:
    return f"{get_settings().app_url}{path}?{urlencode(params)}"


def _send(to: str, subject: str, intro: str, action: str, link: str, outro: str) -> None:
    text = f"{intro}\n\n{action}: {link}\n\n{outro}\n"
    body = (
        f"<p>{html.escape(intro)}</p>"
        f'<p><a href="{html.escape(link, quote=True)}" '
        'style="background:#4f46e5;color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">'
        f"{html.escape(action)}</a></p>"
        f'<p style="color:#6b7280">{html.escape(outro)}<br>{html.escape(link)}</p>'
    )
    send_email(to, subject, text, body)


def send_verification(to: str, token: str) -> None:
    _send(
        to,
        "Confirm your e-mail address",
        "Welcome to MoreMinimore! Confirm your e-mail address to start building.",
        "Confirm e-mail",
        app_link("/verify-email", token=token),
        "The link works once, for 24 hours. If you did not sign up, ignore this message.",
    )


def send_password_reset(to: str, token: str) -> None:
    _send(
        to,
        "Reset your password",
        "Someone (hopefully you) asked to reset the password of your MoreMinimore account.",
        "Choose a new password",
        app_link("/reset-password", token=token),
        "The link works once, for one hour. If you did not ask, ignore this message: your password stays as it is.",
    )


def send_invitation(to: str, token: str, organization_name: str, inviter: str) -> None:
    _send(
        to,
        f"You are invited to {organization_name} on MoreMinimore",
        f"{inviter} invited you to join {organization_name} on MoreMinimore.",
        "Accept the invitation",
        app_link("/invitations/accept", token=token),
        "The invitation is valid for 7 days. New to MoreMinimore? Create your account first, then accept.",
    )


def send_deployment_live(to: str, project_name: str, url: str) -> None:
    _send(
        to,
        f"{project_name} is live",
        f"Your project {project_name} was deployed and answers at {url}.",
        "Open your app",
        url,
        "You get this e-mail because you started the deployment.",
    )


def send_payment_failed(to: str, organization_name: str, invoice_url: str) -> None:
    _send(
        to,
        f"Payment failed for {organization_name}",
        f"We could not collect the payment for {organization_name}'s MoreMinimore subscription. Your plan stays "
        "as it is for now; update the payment method or pay the invoice to keep it.",
        "Pay the invoice",
        invoice_url,
        "Stripe tries again over the next days. You get this e-mail as an owner of the organization.",
    )


def send_payment_action_required(to: str, organization_name: str, invoice_url: str) -> None:
    _send(
        to,
        f"Confirm the payment for {organization_name}",
        f"Your bank asks you to confirm the payment for {organization_name}'s MoreMinimore subscription.",
        "Confirm the payment",
        invoice_url,
        "You get this e-mail as an owner of the organization.",
    )


def send_trial_ending(to: str, organization_name: str, ends: str, billing_url: str) -> None:
    _send(
        to,
        f"The trial of {organization_name} ends soon",
        f"The trial of {organization_name}'s MoreMinimore plan ends on {ends}. The plan continues unless you "
        "cancel it before then.",
        "Review the plan",
        billing_url,
        "You get this e-mail as an owner of the organization.",
    )


def send_trial_ended(to: str, organization_name: str, billing_url: str) -> None:
    _send(
        to,
        f"The trial of {organization_name} has ended",
        f"The trial of {organization_name}'s MoreMinimore plan has ended without a subscription, so the organization "
        "is on the Free plan now. Nothing was deleted; what is over the Free plan's limits stays as it is.",
        "Choose a plan",
        billing_url,
        "You get this e-mail as an owner of the organization.",
    )
