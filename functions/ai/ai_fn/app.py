"""The AI catalog (providers, models) for admins, the models users may pick, and users' own keys."""

from __future__ import annotations

from ai_fn.routes import api_keys, models, providers, user_models
from mm_common.api import create_app, lambda_handler

app = create_app("ai")
app.include_router(providers.router)
app.include_router(models.router)
app.include_router(user_models.router)
app.include_router(api_keys.router)

handler = lambda_handler(app)
