"""Organizations: create, list, rename, delete; members and their roles; invitations; audit log.

Wiring only: the routes are in ``routes/`` (one module per resource), the rules in
``service.py``, the SQL in ``queries.py``. Routers are included in the order their routes
must be matched.
"""

from __future__ import annotations

from mm_common.api import create_app, lambda_handler
from organizations_fn.routes import audit_logs, invitations, members, organizations

app = create_app("organizations")
app.include_router(organizations.router)
app.include_router(members.router)
app.include_router(invitations.router)
app.include_router(audit_logs.router)

handler = lambda_handler(app)
