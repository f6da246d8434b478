-- token_usage counts every token an organization's answers used (analytics); the quota of the
-- platform's keys counts only the tokens spent on those keys, kept apart here.
ALTER TABLE token_usage
    ADD COLUMN metered_prompt_tokens BIGINT NOT NULL DEFAULT 0 CHECK (metered_prompt_tokens >= 0),
    ADD COLUMN metered_completion_tokens BIGINT NOT NULL DEFAULT 0 CHECK (metered_completion_tokens >= 0);
