"""The AI catalog: providers and models. Seeded with the well-known providers; admins manage it."""

from __future__ import annotations

from typing import Any

from mm_common.db import Connection

# (slug, name, kind, base URL, environment variable of the platform's key). The variable names
# are those of the default AI_PLATFORM_KEY_NAMES allow-list (mm_common.config); a local model
# server (Ollama) needs no key. Its loopback URL is only called where the operator allows
# private networks (AI_ALLOW_PRIVATE_NETWORKS, as the local stack does).
BUILTIN_PROVIDERS: list[tuple[str, str, str, str, str | None]] = [
    ("openai", "OpenAI", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    ("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY"),
    ("google", "Google Gemini", "gemini", "https://generativelanguage.googleapis.com/v1beta", "GOOGLE_API_KEY"),
    ("openrouter", "OpenRouter", "openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    ("ollama", "Ollama (OpenAI-compatible)", "openai_compatible", "http://localhost:11434/v1", None),
]

# (provider slug, display name, API name, context window, max output tokens)
BUILTIN_MODELS: list[tuple[str, str, str, int, int]] = [
    ("openai", "GPT-4.1", "gpt-4.1", 1_047_576, 32_768),
    ("openai", "GPT-4.1 mini", "gpt-4.1-mini", 1_047_576, 32_768),
    ("anthropic", "Claude Sonnet 4.5", "claude-sonnet-4-5", 200_000, 64_000),
    ("anthropic", "Claude Haiku 4.5", "claude-haiku-4-5", 200_000, 64_000),
    ("google", "Gemini 2.5 Pro", "gemini-2.5-pro", 1_048_576, 65_536),
    ("google", "Gemini 2.5 Flash", "gemini-2.5-flash", 1_048_576, 65_536),
    ("openrouter", "OpenRouter Auto", "openrouter/auto", 200_000, 32_000),
    ("ollama", "Qwen 2.5 Coder 7B (local)", "qwen2.5-coder:7b", 32_768, 8_192),
]


def seed_catalog(conn: Connection) -> dict[str, int]:
    """Insert the built-in providers and models that are missing; never overwrite admins' edits."""
    providers = 0
    for slug, name, kind, base_url, env_var in BUILTIN_PROVIDERS:
        providers += conn.execute(
            """
            INSERT INTO ai_providers (slug, name, kind, api_base_url, env_var_name, is_builtin)
            VALUES (%s, %s, %s, %s, %s, TRUE) ON CONFLICT (slug) DO NOTHING
            """,
            (slug, name, kind, base_url, env_var),
        ).rowcount
    models = 0
    for provider, display, api_name, context_window, max_output in BUILTIN_MODELS:
        models += conn.execute(
            """
            INSERT INTO ai_models (provider_id, display_name, api_name, context_window, max_output_tokens)
            SELECT id, %s, %s, %s, %s FROM ai_providers WHERE slug = %s
            ON CONFLICT (provider_id, api_name) DO NOTHING
            """,
            (display, api_name, context_window, max_output, provider),
        ).rowcount
    return {"providers": providers, "models": models}


def model_with_provider(conn: Connection, model_id: Any) -> dict[str, Any] | None:
    row = conn.execute(
        """
        SELECT m.id AS model_id, m.api_name, m.display_name, m.context_window, m.max_output_tokens,
               p.id AS provider_id, p.slug AS provider_slug, p.name AS provider_name, p.kind,
               p.api_base_url, p.env_var_name
        FROM ai_models m JOIN ai_providers p ON p.id = m.provider_id
        WHERE m.id = %s AND m.is_available AND p.is_enabled
        """,
        (model_id,),
    ).fetchone()
    return dict(row) if row else None
