"""Rules for e-mail addresses and passwords, shared by sign-up, invitations and resets."""

from __future__ import annotations

import re

MIN_PASSWORD_LENGTH = 10
# argon2 hashes any length, but an unbounded one is a cheap way to burn our CPU.
MAX_PASSWORD_LENGTH = 256

# Matched against the whole address (fullmatch): no spaces, no control characters, one "@",
# a dot in the domain. Deliverability is proven by the confirmation link, not by a pattern.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")

# The most common passwords of at least 10 characters in public breach corpora (lower-cased):
# length alone does not stop these.
_TOO_COMMON = """
    1234567890 0123456789 0987654321 1111111111 0000000000 1234554321 1q2w3e4r5t 1qaz2wsx3edc
    qwertyuiop asdfghjkl; zxcvbnm,./ qwertyuiop1 qwerty1234 qwerty12345 qwerty123456 password12
    password123 password1234 password12345 password! password1! passw0rd123 p@ssw0rd123 iloveyou12
    iloveyou123 princess123 sunshine123 football123 baseball123 superman123 starwars123 letmein123
    welcome123 welcome1234 admin12345 administrator changeme123 trustno1234 monkey12345 dragon12345
    abcdefghij abcd123456 abc1234567 a123456789 123456789a 12345678910 123123123123 1234512345
    1212121212 5555555555 7777777777 9999999999 aaaaaaaaaa qazwsxedcrfv 1q2w3e4r5t6y zaq12wsxcde3
    qwertyqwerty passwordpassword michael123 jennifer123 liverpool1 chocolate1 elizabeth1 alexander1
"""
COMMON_PASSWORDS = frozenset(_TOO_COMMON.split())


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """Why an (already normalised) e-mail address is not acceptable, or None."""
    if len(email) > 254:
        return "The e-mail address is too long."
    if not _EMAIL.fullmatch(email):
        return "Enter a valid e-mail address, like name@example.com."
    return None


def password_problem(password: str) -> str | None:
    """Why a password is too weak, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters for your password."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters for your password."
    if password.lower() in COMMON_PASSWORDS or len(set(password)) <= 2:
        return "This password is too common and easy to guess. Choose another one."
    return None
