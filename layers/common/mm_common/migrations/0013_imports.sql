-- Import from the desktop app (issue 16): a user uploads the desktop app's sqlite.db and, per app, its
-- folder with .git (zip) or a git bundle, straight to the imports bucket; the import worker analyzes
-- them and imports the chosen apps as projects with their whole history. mm_common.imports is the
-- only writer of these tables.

-- status: uploading → analyzing → analyzed → importing → completed | failed. An analysis that fails
-- (a damaged database, an unsafe archive) ends failed with its error and nothing imported.
CREATE TABLE imports (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    status          VARCHAR(20) NOT NULL DEFAULT 'uploading'
                    CONSTRAINT imports_status_known
                    CHECK (status IN ('uploading', 'analyzing', 'analyzed', 'importing', 'completed', 'failed')),
    -- The upload slots: [{"name", "key", "maxBytes"}] (the database's and one per app archive).
    uploads         JSONB NOT NULL DEFAULT '[]',
    analysis        JSONB,
    options         JSONB,
    error           JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    analyzed_at     TIMESTAMPTZ,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ
);

CREATE INDEX idx_imports_organization ON imports (organization_id, created_at DESC, id DESC);
CREATE INDEX idx_imports_created_by ON imports (created_by);

-- One row per desktop app chosen for import: its progress, counts, warnings and per-item errors.
CREATE TABLE import_apps (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    import_id     UUID NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    source_app_id BIGINT NOT NULL,
    archive_name  TEXT,
    project_name  VARCHAR(255) NOT NULL,
    project_id    UUID REFERENCES projects (id) ON DELETE SET NULL,
    status        VARCHAR(20) NOT NULL DEFAULT 'queued'
                  CONSTRAINT import_apps_status_known
                  CHECK (status IN ('queued', 'importing', 'completed', 'failed')),
    stage         VARCHAR(20),
    counts        JSONB NOT NULL DEFAULT '{}',
    warnings      JSONB NOT NULL DEFAULT '[]',
    errors        JSONB NOT NULL DEFAULT '[]',
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    UNIQUE (import_id, source_app_id)
);

CREATE INDEX idx_import_apps_project ON import_apps (project_id);

-- What each imported item became (a commit → a version, a chat, a message, a prompt, an app's custom theme
-- → its project's design system revision): the map that resolves the desktop app's commit hashes in
-- messages to our versions, and what makes a redelivered import job skip what is already done instead
-- of duplicating it.
CREATE TABLE import_items (
    import_id UUID NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    kind      VARCHAR(20) NOT NULL CONSTRAINT import_items_kind_known
              CHECK (kind IN ('commit', 'chat', 'message', 'prompt', 'theme')),
    -- The desktop app's id (an integer as text) or, for a commit or a theme, "<app id>:<sha or theme id>".
    source_id TEXT NOT NULL,
    target_id UUID NOT NULL,
    PRIMARY KEY (import_id, kind, source_id)
);
