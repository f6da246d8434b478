"""The auth function's rules, one module per resource: account (sign-up, sign-in, sessions,
password reset), me (the signed-in user's own account) and users (platform administration)."""
