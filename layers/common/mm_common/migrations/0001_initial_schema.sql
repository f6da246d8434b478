-- 0001_initial_schema.sql
--
-- Initial schema for MoreMinimore. The migration runner wraps this file in a
-- single transaction, so there is no BEGIN/COMMIT here.
--
-- Conventions:
--   * PostgreSQL 15+ core only. No extensions (gen_random_uuid() is core since 13).
--   * Every timestamp is TIMESTAMPTZ. Lambdas run in UTC, but clients don't, and
--     naive timestamps silently shift when a session TimeZone differs.
--   * Enumerations are TEXT/VARCHAR + CHECK rather than ENUM types, because
--     adding a value to a CHECK is a plain constraint swap in a later migration,
--     whereas ALTER TYPE ... ADD VALUE has transaction restrictions.
--   * Big lists are paged with keyset pagination on (created_at DESC, id DESC),
--     so those lists get a matching composite index.
--   * Every foreign-key column is indexed. Without the index, a DELETE on the
--     parent (or its ON DELETE action) scans the whole child table.
--   * A few tables carry a denormalised project_id/organization_id. Those use
--     composite foreign keys against UNIQUE (parent_id, id) pairs so a row can
--     never point at another tenant's object (defence in depth for multi-tenancy).
--     ON DELETE SET NULL (col) with a column list needs PostgreSQL 15.

-- ---------------------------------------------------------------------------
-- updated_at maintenance
-- ---------------------------------------------------------------------------

-- Application code should not have to remember to touch updated_at; doing it
-- in a trigger also covers ad-hoc admin UPDATEs.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$fn$;

-- ---------------------------------------------------------------------------
-- Identity
-- ---------------------------------------------------------------------------

CREATE TABLE users (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The application lower-cases addresses before writing them; the CHECK
    -- makes a missed normalisation fail loudly instead of creating a second
    -- account that differs only by case.
    email               VARCHAR(255) NOT NULL UNIQUE
                        CONSTRAINT users_email_lowercase CHECK (email = lower(email))
                        CONSTRAINT users_email_shape CHECK (position('@' IN email) > 1),
    password_hash       VARCHAR(255) NOT NULL,
    full_name           VARCHAR(255),
    -- Global (platform) role only. Per-organization roles such as 'owner'
    -- live in organization_members.role.
    role                VARCHAR(50) NOT NULL DEFAULT 'user'
                        CONSTRAINT users_role_check CHECK (role IN ('admin', 'co_admin', 'user')),
    avatar_url          TEXT,
    email_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_at       TIMESTAMPTZ,
    is_active           BOOLEAN NOT NULL DEFAULT TRUE,
    -- Embedded in every access token. Bumping it (ban, password change,
    -- "log out everywhere") invalidates all outstanding access tokens at once
    -- instead of waiting for them to expire.
    token_version       INTEGER NOT NULL DEFAULT 0,
    password_changed_at TIMESTAMPTZ,
    banned_at           TIMESTAMPTZ
);

-- The spec's idx_users_email (a plain index on email) would duplicate the
-- UNIQUE constraint's index, so the name is reused for the case-insensitive
-- unique index: lookups are written as WHERE lower(email) = lower($1) and this
-- index both serves them and guarantees case-insensitive uniqueness even if a
-- future change relaxes the lower-case CHECK.
CREATE UNIQUE INDEX idx_users_email ON users (lower(email));
CREATE INDEX idx_users_created ON users (created_at DESC, id DESC);

CREATE TABLE organizations (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                    VARCHAR(255) NOT NULL,
    -- Slugs end up in URLs and in Easypanel project/service names, which only
    -- accept [a-z0-9-_].
    slug                    VARCHAR(255) NOT NULL UNIQUE
                            CONSTRAINT organizations_slug_format
                            CHECK (slug ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'),
    -- RESTRICT, not the spec's CASCADE: hard-deleting one user must not wipe
    -- out an organization (and every other member's projects). Ownership is
    -- transferred, or the organization deleted, explicitly first.
    owner_id                UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    stripe_customer_id      VARCHAR(255) UNIQUE,
    -- Missing from the spec although its webhook code relies on it.
    stripe_subscription_id  VARCHAR(255) UNIQUE,
    -- The tier is derived from the price's lookup_key, never by matching
    -- substrings of the opaque price id.
    stripe_price_id         VARCHAR(255),
    subscription_tier       VARCHAR(50) NOT NULL DEFAULT 'free'
                            CONSTRAINT organizations_subscription_tier_check
                            CHECK (subscription_tier IN ('free', 'pro', 'enterprise')),
    -- Stripe's full Subscription.status set, so a webhook never fails on an
    -- unexpected value.
    subscription_status     VARCHAR(50) NOT NULL DEFAULT 'active'
                            CONSTRAINT organizations_subscription_status_check
                            CHECK (subscription_status IN (
                                'active', 'trialing', 'past_due', 'canceled', 'unpaid',
                                'incomplete', 'incomplete_expired', 'paused')),
    trial_ends_at           TIMESTAMPTZ,
    -- Since Stripe API 2025-03-31.basil this comes from the subscription
    -- item, not the subscription.
    current_period_end      TIMESTAMPTZ,
    cancel_at_period_end    BOOLEAN NOT NULL DEFAULT FALSE,
    -- Stripe does not guarantee event order; the webhook handler ignores
    -- events created before the last one it applied.
    stripe_last_event_at    TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The spec's idx_organizations_slug is omitted: UNIQUE (slug) already creates
-- an identical index.
CREATE INDEX idx_organizations_owner ON organizations (owner_id);
CREATE INDEX idx_organizations_created ON organizations (created_at DESC, id DESC);

CREATE TABLE organization_members (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            VARCHAR(50) NOT NULL
                    CONSTRAINT organization_members_role_check
                    CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    -- A JSON array drawn from a fixed vocabulary. The containment test rejects
    -- typos ("delpoy") that would otherwise silently grant nothing.
    permissions     JSONB NOT NULL DEFAULT '[]'
                    CONSTRAINT organization_members_permissions_check
                    CHECK (jsonb_typeof(permissions) = 'array'
                           AND permissions <@ '["view", "edit", "deploy", "manage", "invite"]'::jsonb),
    invited_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    joined_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (organization_id, user_id)
);

-- The spec's idx_org_members_org is omitted: UNIQUE (organization_id, user_id)
-- leads with organization_id and serves the same lookups.
CREATE INDEX idx_org_members_user ON organization_members (user_id);
CREATE INDEX idx_org_members_invited_by ON organization_members (invited_by);
-- An organization may have several owners (co-owners); the application keeps at
-- least one: the last owner cannot be removed or demoted.

CREATE TABLE invitations (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           VARCHAR(255) NOT NULL
                    CONSTRAINT invitations_email_lowercase CHECK (email = lower(email)),
    -- Ownership is transferred, never granted through an invitation.
    role            VARCHAR(50) NOT NULL DEFAULT 'member'
                    CONSTRAINT invitations_role_check CHECK (role IN ('admin', 'member', 'viewer')),
    permissions     JSONB NOT NULL DEFAULT '[]'
                    CONSTRAINT invitations_permissions_check
                    CHECK (jsonb_typeof(permissions) = 'array'
                           AND permissions <@ '["view", "edit", "deploy", "manage", "invite"]'::jsonb),
    -- Only a hash of the emailed token is stored, so a database leak (backup,
    -- replica, SQL injection) does not hand out usable invitation links.
    token_hash      TEXT NOT NULL UNIQUE,
    invited_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    accepted_at     TIMESTAMPTZ,
    accepted_by     UUID REFERENCES users (id) ON DELETE SET NULL,
    revoked_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT invitations_accepted_or_revoked CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);

-- One pending invitation per (organization, address). now() cannot appear in
-- an index predicate, so an expired but never-revoked invitation still counts
-- as pending: re-inviting revokes (or refreshes) the old row first.
CREATE UNIQUE INDEX uq_invitations_pending
    ON invitations (organization_id, lower(email))
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX idx_invitations_org_created ON invitations (organization_id, created_at DESC, id DESC);
-- "Which invitations are waiting for me" at sign-up / login.
CREATE INDEX idx_invitations_pending_email
    ON invitations (lower(email)) WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX idx_invitations_invited_by ON invitations (invited_by);
CREATE INDEX idx_invitations_accepted_by ON invitations (accepted_by);

-- ---------------------------------------------------------------------------
-- AI providers and models
-- ---------------------------------------------------------------------------

CREATE TABLE ai_providers (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name         VARCHAR(255) NOT NULL,
    slug         VARCHAR(100) NOT NULL UNIQUE
                 CONSTRAINT ai_providers_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]*$'),
    -- Selects the client adapter (wire protocol), independent of the display name.
    kind         TEXT NOT NULL
                 CONSTRAINT ai_providers_kind_check
                 CHECK (kind IN ('openai', 'anthropic', 'gemini', 'openrouter', 'openai_compatible')),
    api_base_url TEXT NOT NULL,
    env_var_name VARCHAR(100),
    is_builtin   BOOLEAN NOT NULL DEFAULT TRUE,
    is_enabled   BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE ai_models (
    id                               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name                     VARCHAR(255) NOT NULL,
    api_name                         VARCHAR(255) NOT NULL,
    provider_id                      UUID NOT NULL REFERENCES ai_providers (id) ON DELETE CASCADE,
    description                      TEXT,
    max_output_tokens                INTEGER CHECK (max_output_tokens > 0),
    context_window                   INTEGER CHECK (context_window > 0),
    is_available                     BOOLEAN NOT NULL DEFAULT TRUE,
    -- USD per 1M tokens; NULL means unknown (e.g. a custom endpoint), which
    -- is different from free (0).
    input_price_per_million_tokens   NUMERIC(12, 6) CHECK (input_price_per_million_tokens >= 0),
    output_price_per_million_tokens  NUMERIC(12, 6) CHECK (output_price_per_million_tokens >= 0),
    created_at                       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Also serves as the index for the provider_id foreign key.
    UNIQUE (provider_id, api_name)
);

CREATE TABLE user_api_keys (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id        UUID NOT NULL REFERENCES ai_providers (id) ON DELETE CASCADE,
    encrypted_key      TEXT NOT NULL,
    -- KMS-wrapped data key that encrypted encrypted_key. Without it the
    -- ciphertext cannot be decrypted, so the pair is always written together.
    encrypted_data_key TEXT NOT NULL,
    -- Lets the UI show "sk-...abcd" without ever decrypting the key.
    key_last4          TEXT CONSTRAINT user_api_keys_last4_len CHECK (char_length(key_last4) <= 4),
    is_active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Leads with user_id, so it also indexes the user_id foreign key.
    UNIQUE (user_id, provider_id)
);

CREATE INDEX idx_user_api_keys_provider ON user_api_keys (provider_id);

COMMENT ON COLUMN user_api_keys.encrypted_key IS
    'Ciphertext only (AES-GCM under a per-row data key, see encrypted_data_key). The plaintext key is never stored or logged.';
COMMENT ON COLUMN user_api_keys.encrypted_data_key IS
    'KMS-encrypted data key (envelope encryption) used to encrypt encrypted_key.';

-- ---------------------------------------------------------------------------
-- Projects, versions, chats, messages
-- ---------------------------------------------------------------------------

CREATE TABLE projects (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                  VARCHAR(255) NOT NULL,
    description           TEXT,
    -- Used in Easypanel service names and deployment hostnames.
    slug                  VARCHAR(255) NOT NULL
                          CONSTRAINT projects_slug_format
                          CHECK (slug ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'),
    -- Gitea ids are int64.
    gitea_repo_id         BIGINT,
    gitea_repo_url        TEXT,
    easypanel_project_id  VARCHAR(255),
    easypanel_app_id      VARCHAR(255),
    easypanel_database_id VARCHAR(255),
    deployment_url        TEXT,
    install_command       TEXT DEFAULT 'npm install',
    start_command         TEXT DEFAULT 'npm start',
    build_command         TEXT DEFAULT 'npm run build',
    environment_variables JSONB NOT NULL DEFAULT '{}'
                          CONSTRAINT projects_env_is_object
                          CHECK (jsonb_typeof(environment_variables) = 'object'),
    status                VARCHAR(50) NOT NULL DEFAULT 'draft'
                          CONSTRAINT projects_status_check
                          CHECK (status IN ('draft', 'building', 'deployed', 'error')),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_deployed_at      TIMESTAMPTZ,
    -- When TRUE, AI proposals are applied without waiting for a click.
    auto_approve          BOOLEAN NOT NULL DEFAULT FALSE,
    template              TEXT,
    -- FK to project_versions is added once that table exists.
    current_version_id    UUID,
    created_by            UUID REFERENCES users (id) ON DELETE SET NULL,
    -- Soft delete so Easypanel/Gitea/S3 teardown can run asynchronously.
    deleted_at            TIMESTAMPTZ,
    -- Kept on the full table, not only live rows: a soft-deleted project still
    -- owns its Easypanel service name until the purge job removes it, so the
    -- slug must not be reused before then.
    UNIQUE (organization_id, slug),
    -- Target of composite FKs that pin denormalised organization_id columns.
    UNIQUE (organization_id, id)
);

COMMENT ON COLUMN projects.environment_variables IS
    'Map name -> value. Values are stored KMS-envelope-encrypted (ciphertext + wrapped data key), never as plaintext.';

-- The spec's idx_projects_slug is omitted: it is identical to the index of
-- UNIQUE (organization_id, slug). idx_projects_org keeps the spec name but is
-- widened for keyset pagination of the project list; it still serves the
-- organization_id foreign key.
CREATE INDEX idx_projects_org ON projects (organization_id, created_at DESC, id DESC);
CREATE INDEX idx_projects_created_by ON projects (created_by);
CREATE INDEX idx_projects_current_version ON projects (current_version_id);
-- The purge job looks for soft-deleted projects.
CREATE INDEX idx_projects_deleted ON projects (deleted_at) WHERE deleted_at IS NOT NULL;

-- Versions are immutable snapshots: the file tree of each version is a
-- manifest object in S3 (path -> sha256), with file contents stored once per
-- organization as content-addressed blobs (see snapshot_blobs). Restoring
-- creates a new version (history is never rewritten).
CREATE TABLE project_versions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id       UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- Monotonic per project, allocated by the application under a lock on
    -- the project row.
    number           INTEGER NOT NULL CONSTRAINT project_versions_number_positive CHECK (number > 0),
    -- Spec column kept for compatibility; derived from number so the two can
    -- never disagree. Write number, read either.
    version_number   VARCHAR(50) GENERATED ALWAYS AS (number::text) STORED,
    -- Git commit of the Gitea backup, when the mirror has caught up.
    commit_hash      VARCHAR(255),
    gitea_commit_id  VARCHAR(255),
    -- Spec column kept; projects.current_version_id is authoritative. The
    -- partial unique index below keeps at most one TRUE per project.
    is_current       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    parent_id        UUID,
    message          TEXT,
    source           TEXT NOT NULL DEFAULT 'ai'
                     CONSTRAINT project_versions_source_check
                     CHECK (source IN ('user', 'restore', 'ai', 'import', 'template')),
    created_by       UUID REFERENCES users (id) ON DELETE SET NULL,
    -- The assistant message whose proposal produced this version. FK added
    -- after messages exists (messages also reference versions).
    message_id       UUID,
    -- Not unique: manifests may be content-addressed, and restoring an
    -- unchanged tree legitimately yields the same manifest.
    manifest_key     TEXT NOT NULL,
    manifest_sha256  CHAR(64) CONSTRAINT project_versions_manifest_sha256_hex
                     CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
    file_count       INTEGER NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    total_size       BIGINT NOT NULL DEFAULT 0 CHECK (total_size >= 0),
    restored_from_id UUID,
    -- Also the index for listing versions newest first (scanned backwards).
    UNIQUE (project_id, number),
    -- Target of composite FKs that keep version references inside one project.
    UNIQUE (project_id, id),
    -- Parent / restore source must be a version of the same project.
    CONSTRAINT project_versions_parent_fk FOREIGN KEY (project_id, parent_id)
        REFERENCES project_versions (project_id, id) ON DELETE SET NULL (parent_id),
    CONSTRAINT project_versions_restored_from_fk FOREIGN KEY (project_id, restored_from_id)
        REFERENCES project_versions (project_id, id) ON DELETE SET NULL (restored_from_id)
);

-- The spec's UNIQUE (project_id, version_number) is implied by
-- UNIQUE (project_id, number) now that version_number is derived from number.
CREATE UNIQUE INDEX uq_project_versions_one_current
    ON project_versions (project_id) WHERE is_current;
CREATE INDEX idx_project_versions_parent ON project_versions (parent_id);
CREATE INDEX idx_project_versions_restored_from ON project_versions (restored_from_id);
CREATE INDEX idx_project_versions_created_by ON project_versions (created_by);
CREATE INDEX idx_project_versions_message ON project_versions (message_id);

-- The current version must belong to the project itself. On delete of that
-- version only current_version_id is cleared (not projects.id).
ALTER TABLE projects
    ADD CONSTRAINT projects_current_version_fk FOREIGN KEY (id, current_version_id)
        REFERENCES project_versions (project_id, id) ON DELETE SET NULL (current_version_id);

-- Named bookmarks on versions ("before the redesign").
CREATE TABLE version_tags (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    version_id UUID NOT NULL,
    name       TEXT NOT NULL CONSTRAINT version_tags_name_len CHECK (char_length(name) BETWEEN 1 AND 100),
    created_by UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, name),
    CONSTRAINT version_tags_version_fk FOREIGN KEY (project_id, version_id)
        REFERENCES project_versions (project_id, id) ON DELETE CASCADE
);

CREATE INDEX idx_version_tags_version ON version_tags (version_id);
CREATE INDEX idx_version_tags_created_by ON version_tags (created_by);

CREATE TABLE chats (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id         UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title              VARCHAR(255),
    created_by         UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Project version when the chat started; "undo" of the first turn
    -- returns here.
    initial_version_id UUID,
    -- Target of the composite FK from generation_jobs.
    UNIQUE (project_id, id),
    CONSTRAINT chats_initial_version_fk FOREIGN KEY (project_id, initial_version_id)
        REFERENCES project_versions (project_id, id) ON DELETE SET NULL (initial_version_id)
);

-- Spec name kept, widened for keyset pagination; serves the project_id FK.
CREATE INDEX idx_chats_project ON chats (project_id, created_at DESC, id DESC);
CREATE INDEX idx_chats_created_by ON chats (created_by);
CREATE INDEX idx_chats_initial_version ON chats (initial_version_id);

CREATE TABLE messages (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id           UUID NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    role              VARCHAR(50) NOT NULL
                      CONSTRAINT messages_role_check CHECK (role IN ('user', 'assistant', 'system')),
    content           TEXT NOT NULL,
    metadata          JSONB,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- NULL = nothing to approve (user/system messages, ask-mode answers,
    -- answers without file changes).
    approval_state    TEXT
                      CONSTRAINT messages_approval_state_check
                      CHECK (approval_state IN ('pending', 'approved', 'rejected')),
    -- Parsed file operations of an assistant turn, applied on approval.
    proposal          JSONB,
    -- Version the turn was generated against, and the version its approval
    -- produced; used for diff, undo and retry.
    source_version_id UUID REFERENCES project_versions (id) ON DELETE SET NULL,
    result_version_id UUID REFERENCES project_versions (id) ON DELETE SET NULL,
    model_id          UUID REFERENCES ai_models (id) ON DELETE SET NULL,
    created_by        UUID REFERENCES users (id) ON DELETE SET NULL,
    -- Only assistant turns carry proposals.
    CONSTRAINT messages_approval_only_assistant
        CHECK (approval_state IS NULL OR role = 'assistant')
);

-- Spec name kept; the chat is read oldest -> newest with keyset on
-- (created_at, id), which this index serves (it also covers the chat_id FK).
CREATE INDEX idx_messages_chat ON messages (chat_id, created_at, id);
CREATE INDEX idx_messages_created ON messages (created_at);
CREATE INDEX idx_messages_pending ON messages (chat_id) WHERE approval_state = 'pending';
CREATE INDEX idx_messages_source_version ON messages (source_version_id);
CREATE INDEX idx_messages_result_version ON messages (result_version_id);
CREATE INDEX idx_messages_model ON messages (model_id);
CREATE INDEX idx_messages_created_by ON messages (created_by);

ALTER TABLE project_versions
    ADD CONSTRAINT project_versions_message_fk FOREIGN KEY (message_id)
        REFERENCES messages (id) ON DELETE SET NULL;

-- Working tree of a project (the editable "current" files). Text lives in
-- the row; binary files live in S3 and only their key is stored, keeping
-- rows small and TOAST out of the hot path.
CREATE TABLE project_files (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- Relative POSIX path. These files are later written to S3, Gitea and a
    -- build context, so absolute paths, '.'/'..' segments, empty segments
    -- and backslashes are rejected here as a last line of defence against
    -- path traversal.
    path       TEXT NOT NULL
               CONSTRAINT project_files_path_len CHECK (char_length(path) BETWEEN 1 AND 1024)
               CONSTRAINT project_files_path_safe CHECK (
                   path !~ '(^|/)\.\.?(/|$)'
                   AND path !~ '^/|/$|//'
                   AND position(E'\\' IN path) = 0),
    content    TEXT,
    blob_key   TEXT,
    -- Describes content when it is inline; utf-8 text is the normal case.
    encoding   TEXT NOT NULL DEFAULT 'utf-8'
               CONSTRAINT project_files_encoding_check CHECK (encoding IN ('utf-8', 'base64')),
    language   VARCHAR(50),
    -- Size in bytes of the decoded file.
    size       BIGINT NOT NULL CONSTRAINT project_files_size_nonneg CHECK (size >= 0),
    -- sha256 of the file bytes: lets a snapshot reuse blobs and lets diffs
    -- skip unchanged files without reading content.
    sha256     CHAR(64) NOT NULL CONSTRAINT project_files_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- Unix permission bits; 420 = 0644, 493 = 0755.
    mode       INTEGER NOT NULL DEFAULT 420 CONSTRAINT project_files_mode_range CHECK (mode BETWEEN 0 AND 4095),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Exactly one storage location.
    CONSTRAINT project_files_one_location CHECK ((content IS NULL) <> (blob_key IS NULL)),
    UNIQUE (project_id, path)
);

-- The spec's idx_project_files_project and idx_project_files_path are omitted:
-- both are covered by the index of UNIQUE (project_id, path).
-- Blob garbage collection checks whether an S3 key is still referenced.
CREATE INDEX idx_project_files_blob_key ON project_files (blob_key) WHERE blob_key IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Prompts and design systems
-- ---------------------------------------------------------------------------

CREATE TABLE prompts (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    title       VARCHAR(255) NOT NULL,
    description TEXT,
    content     TEXT NOT NULL,
    category    VARCHAR(100),
    is_public   BOOLEAN NOT NULL DEFAULT FALSE,
    -- SET NULL so the admin-curated public library survives the removal of
    -- the admin account that wrote it.
    created_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_prompts_created_by ON prompts (created_by, created_at DESC, id DESC);
CREATE INDEX idx_prompts_public ON prompts (created_at DESC, id DESC) WHERE is_public;

CREATE TABLE design_systems (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            VARCHAR(255) NOT NULL,
    pattern         VARCHAR(255),
    style           VARCHAR(255),
    color_palette   JSONB,
    typography      JSONB,
    effects         JSONB,
    anti_patterns   JSONB,
    generated_by_ai BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_design_systems_project ON design_systems (project_id);

-- ---------------------------------------------------------------------------
-- Deployments and AI generation jobs
-- ---------------------------------------------------------------------------

-- One row per deployment attempt (the spec's "deployments").
CREATE TABLE deployment_logs (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- SET NULL rather than the spec's implicit NO ACTION, so pruning old
    -- versions is not blocked by deployment history.
    version_id        UUID,
    status            VARCHAR(50) NOT NULL DEFAULT 'pending'
                      CONSTRAINT deployment_logs_status_check
                      CHECK (status IN ('pending', 'running', 'success', 'failed', 'canceled')),
    logs              TEXT,
    error_message     TEXT,
    started_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at      TIMESTAMPTZ,
    -- Step Functions execution driving the Gitea -> Easypanel chain; unique
    -- so task callbacks map to exactly one row.
    execution_arn     TEXT UNIQUE,
    triggered_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    kind              TEXT NOT NULL DEFAULT 'deploy'
                      CONSTRAINT deployment_logs_kind_check CHECK (kind IN ('deploy', 'update', 'redeploy')),
    easypanel_service TEXT,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT deployment_logs_version_fk FOREIGN KEY (project_id, version_id)
        REFERENCES project_versions (project_id, id) ON DELETE SET NULL (version_id)
);

-- Spec name kept, widened for keyset pagination of deployment history.
CREATE INDEX idx_deployment_logs_project ON deployment_logs (project_id, started_at DESC, id DESC);
CREATE INDEX idx_deployment_logs_version ON deployment_logs (version_id);
CREATE INDEX idx_deployment_logs_triggered_by ON deployment_logs (triggered_by);
-- Two concurrent deployments of one project would race on the same
-- Easypanel service; the second INSERT fails and the API answers 409.
CREATE UNIQUE INDEX uq_deployment_logs_one_active
    ON deployment_logs (project_id) WHERE status IN ('pending', 'running');

-- Queue state for an AI turn. SQS delivers at least once and Lambdas can die
-- mid-stream, so a worker takes a lease (lease_owner, lease_expires_at) and
-- an expired lease may be taken over.
CREATE TABLE generation_jobs (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id              UUID NOT NULL,
    project_id           UUID NOT NULL,
    -- Denormalised for quota checks; the composite FKs keep it consistent
    -- with the project and chat.
    organization_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_message_id      UUID REFERENCES messages (id) ON DELETE SET NULL,
    assistant_message_id UUID REFERENCES messages (id) ON DELETE SET NULL,
    model_id             UUID REFERENCES ai_models (id) ON DELETE SET NULL,
    mode                 TEXT NOT NULL DEFAULT 'build'
                         CONSTRAINT generation_jobs_mode_check CHECK (mode IN ('build', 'ask')),
    status               TEXT NOT NULL DEFAULT 'queued'
                         CONSTRAINT generation_jobs_status_check
                         CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    -- Streamed text accumulated so far; clients poll it.
    output               TEXT NOT NULL DEFAULT '',
    prompt_tokens        INTEGER CHECK (prompt_tokens >= 0),
    completion_tokens    INTEGER CHECK (completion_tokens >= 0),
    error_code           TEXT,
    error_message        TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_owner          TEXT,
    lease_expires_at     TIMESTAMPTZ,
    -- Cooperative cancellation: the worker checks it between chunks.
    cancel_requested_at  TIMESTAMPTZ,
    created_by           UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at           TIMESTAMPTZ,
    finished_at          TIMESTAMPTZ,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT generation_jobs_project_fk FOREIGN KEY (organization_id, project_id)
        REFERENCES projects (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT generation_jobs_chat_fk FOREIGN KEY (project_id, chat_id)
        REFERENCES chats (project_id, id) ON DELETE CASCADE
);

-- Workers look for queued jobs and running jobs whose lease has expired.
CREATE INDEX idx_generation_jobs_status_lease ON generation_jobs (status, lease_expires_at);
CREATE INDEX idx_generation_jobs_chat ON generation_jobs (chat_id, created_at DESC, id DESC);
CREATE INDEX idx_generation_jobs_project ON generation_jobs (project_id, chat_id);
CREATE INDEX idx_generation_jobs_org ON generation_jobs (organization_id, project_id);
CREATE INDEX idx_generation_jobs_user_message ON generation_jobs (user_message_id);
CREATE INDEX idx_generation_jobs_assistant_message ON generation_jobs (assistant_message_id);
CREATE INDEX idx_generation_jobs_model ON generation_jobs (model_id);
CREATE INDEX idx_generation_jobs_created_by ON generation_jobs (created_by);
-- One AI turn at a time per chat: two turns against the same base version
-- would produce conflicting proposals.
CREATE UNIQUE INDEX uq_generation_jobs_one_active
    ON generation_jobs (chat_id) WHERE status IN ('queued', 'running');

-- Monthly token counters per organization, incremented with
-- INSERT ... ON CONFLICT DO UPDATE, so plan quotas are checked with one
-- primary-key read instead of summing generation_jobs.
CREATE TABLE token_usage (
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    period_month      DATE NOT NULL
                      CONSTRAINT token_usage_first_of_month CHECK (extract(day FROM period_month) = 1),
    prompt_tokens     BIGINT NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens BIGINT NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, period_month)
);

-- ---------------------------------------------------------------------------
-- Billing
-- ---------------------------------------------------------------------------

CREATE TABLE invoices (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id        UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    stripe_invoice_id      VARCHAR(255) UNIQUE,
    stripe_subscription_id VARCHAR(255),
    -- The spec's DECIMAL(10,2) amount is replaced by Stripe's own integer
    -- minor units: converting to decimals means guessing each currency's
    -- exponent (JPY has none) and invites float rounding. Display formatting
    -- happens at the edge.
    amount_due             BIGINT NOT NULL CHECK (amount_due >= 0),
    amount_paid            BIGINT NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
    -- Stored exactly as Stripe sends it: lower-case ISO 4217.
    currency               CHAR(3) NOT NULL DEFAULT 'usd'
                           CONSTRAINT invoices_currency_format CHECK (currency ~ '^[a-z]{3}$'),
    status                 VARCHAR(50) NOT NULL
                           CONSTRAINT invoices_status_check
                           CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
    hosted_invoice_url     TEXT,
    invoice_pdf            TEXT,
    due_date               TIMESTAMPTZ,
    paid_at                TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Invoices move draft -> open -> paid through later webhooks.
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_invoices_org ON invoices (organization_id, created_at DESC, id DESC);

-- Also the Stripe webhook idempotency ledger: the handler inserts the event
-- with ON CONFLICT (stripe_event_id) DO NOTHING inside the transaction that
-- applies it, and skips the event when no row was inserted.
CREATE TABLE subscription_events (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Nullable: an event may arrive before its customer is linked to an
    -- organization, and it must still be recorded for de-duplication.
    organization_id   UUID REFERENCES organizations (id) ON DELETE CASCADE,
    -- Free-form Stripe event type (e.g. customer.subscription.updated), so
    -- no CHECK.
    event_type        VARCHAR(100) NOT NULL,
    -- NULL only for events we generate ourselves.
    stripe_event_id   VARCHAR(255) UNIQUE,
    -- Stripe's event.created, for ordering (delivery order is not guaranteed).
    stripe_created_at TIMESTAMPTZ,
    metadata          JSONB,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at      TIMESTAMPTZ
);

CREATE INDEX idx_subscription_events_org
    ON subscription_events (organization_id, created_at DESC, id DESC);

-- ---------------------------------------------------------------------------
-- Audit, sessions, one-time tokens
-- ---------------------------------------------------------------------------

CREATE TABLE audit_logs (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- SET NULL: the trail must outlive the actor and the organization.
    user_id         UUID REFERENCES users (id) ON DELETE SET NULL,
    organization_id UUID REFERENCES organizations (id) ON DELETE SET NULL,
    action          VARCHAR(255) NOT NULL,
    resource_type   VARCHAR(100),
    resource_id     UUID,
    metadata        JSONB,
    ip_address      INET,
    user_agent      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Spec names kept, widened for keyset pagination with optional filters.
CREATE INDEX idx_audit_logs_created ON audit_logs (created_at DESC, id DESC);
CREATE INDEX idx_audit_logs_org ON audit_logs (organization_id, created_at DESC, id DESC);
CREATE INDEX idx_audit_logs_user ON audit_logs (user_id, created_at DESC);
CREATE INDEX idx_audit_logs_action ON audit_logs (action);

-- Refresh-token sessions with rotation. Each refresh issues a new row in the
-- same family and marks the old one replaced; presenting an already-replaced
-- token means it was stolen, and the whole family is revoked.
CREATE TABLE sessions (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Only a hash: a leaked table must not yield usable refresh tokens.
    refresh_token_hash VARCHAR(255) NOT NULL UNIQUE,
    -- No default on purpose: a rotation that forgot to carry the family over
    -- would silently defeat reuse detection.
    family_id          UUID NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    device_info        JSONB,
    revoked_at         TIMESTAMPTZ,
    replaced_by        UUID REFERENCES sessions (id) ON DELETE SET NULL,
    last_used_at       TIMESTAMPTZ,
    ip_address         INET,
    user_agent         TEXT
);

CREATE INDEX idx_sessions_user ON sessions (user_id);
CREATE INDEX idx_sessions_family ON sessions (family_id);
CREATE INDEX idx_sessions_replaced_by ON sessions (replaced_by);
-- Purge job.
CREATE INDEX idx_sessions_expires ON sessions (expires_at);

-- Verification and reset tokens are bearer credentials e-mailed in clear, so
-- only their hash is stored (the spec's plaintext token column is replaced
-- by token_hash). used_at makes them single-use without deleting the row.
CREATE TABLE email_verification_tokens (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at    TIMESTAMPTZ
);

CREATE INDEX idx_email_verification_tokens_user ON email_verification_tokens (user_id);
CREATE INDEX idx_email_verification_tokens_expires ON email_verification_tokens (expires_at);

CREATE TABLE password_reset_tokens (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at    TIMESTAMPTZ
);

CREATE INDEX idx_password_reset_tokens_user ON password_reset_tokens (user_id);
CREATE INDEX idx_password_reset_tokens_expires ON password_reset_tokens (expires_at);

-- ---------------------------------------------------------------------------
-- Platform infrastructure
-- ---------------------------------------------------------------------------

-- Fixed-window rate-limit counters. Lambdas share no memory, so the counter
-- lives here and is bumped atomically with
--   INSERT ... ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limits.count + 1
--   RETURNING count
CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    count        INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
    PRIMARY KEY (bucket, window_start)
);

-- Purge of expired windows.
CREATE INDEX idx_rate_limits_window ON rate_limits (window_start);

-- Admin-editable runtime settings (feature flags, plan limits, ...).
CREATE TABLE system_settings (
    key        TEXT PRIMARY KEY CONSTRAINT system_settings_key_format CHECK (key ~ '^[a-z0-9_.-]+$'),
    value      JSONB NOT NULL,
    updated_by UUID REFERENCES users (id) ON DELETE SET NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_system_settings_updated_by ON system_settings (updated_by);

-- Content-addressed S3 blobs written by version snapshots, one row per
-- (organization, sha256). Deliberately no foreign key to organizations: the
-- rows must outlive a deleted organization so the orphan collector can still
-- find and delete its S3 objects.
CREATE TABLE snapshot_blobs (
    organization_id UUID NOT NULL,
    sha256          CHAR(64) NOT NULL CONSTRAINT snapshot_blobs_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size            BIGINT NOT NULL CHECK (size >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, sha256)
);

-- The collector only considers blobs older than a grace period, so a blob
-- uploaded moments before its manifest is never collected.
CREATE INDEX idx_snapshot_blobs_created ON snapshot_blobs (created_at);

-- ---------------------------------------------------------------------------
-- updated_at triggers
-- ---------------------------------------------------------------------------

CREATE TRIGGER trg_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_organizations_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_organization_members_updated_at BEFORE UPDATE ON organization_members
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_ai_providers_updated_at BEFORE UPDATE ON ai_providers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_ai_models_updated_at BEFORE UPDATE ON ai_models
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_user_api_keys_updated_at BEFORE UPDATE ON user_api_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_projects_updated_at BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_chats_updated_at BEFORE UPDATE ON chats
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_messages_updated_at BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_project_files_updated_at BEFORE UPDATE ON project_files
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_prompts_updated_at BEFORE UPDATE ON prompts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_design_systems_updated_at BEFORE UPDATE ON design_systems
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_deployment_logs_updated_at BEFORE UPDATE ON deployment_logs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_generation_jobs_updated_at BEFORE UPDATE ON generation_jobs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_token_usage_updated_at BEFORE UPDATE ON token_usage
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_invoices_updated_at BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_system_settings_updated_at BEFORE UPDATE ON system_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
