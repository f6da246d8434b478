-- Live preview (issue 15): every new version of a project is built into a static site by the
-- preview worker (functions/preview_build). One row per build request; mm_common.preview_builds is
-- the only writer.
--
-- status: queued → building → ready | failed | unsupported, or skipped when a newer version of the
-- project was queued before this one's turn came (automatic builds only; one a user asked for runs).
-- A ready build's site lives under sites/<label>/ in the previews bucket and is served at
-- <label>.<preview domain>: the label is random (unguessable) and unique.
CREATE TABLE preview_builds (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    version_id        UUID NOT NULL REFERENCES project_versions (id) ON DELETE CASCADE,
    status            VARCHAR(20) NOT NULL DEFAULT 'queued'
                      CONSTRAINT preview_builds_status_known
                      CHECK (status IN ('queued', 'building', 'ready', 'failed', 'unsupported', 'skipped')),
    -- NULL for the automatic build of a new version; the user who asked for a rebuild otherwise.
    requested_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    label             VARCHAR(63) UNIQUE,
    message           TEXT,
    log               TEXT NOT NULL DEFAULT '',
    problems          JSONB NOT NULL DEFAULT '[]',
    timings           JSONB NOT NULL DEFAULT '{}',
    dependency_source VARCHAR(20),
    -- The site is up (ready) while the type check still runs: its problems are not known yet.
    checking          BOOLEAN NOT NULL DEFAULT FALSE,
    attempts          INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at        TIMESTAMPTZ,
    ready_at          TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ,
    CONSTRAINT preview_builds_ready_has_label CHECK (status <> 'ready' OR label IS NOT NULL)
);

CREATE INDEX idx_preview_builds_project ON preview_builds (project_id, created_at DESC, id DESC);
CREATE INDEX idx_preview_builds_version ON preview_builds (version_id, created_at DESC);
-- The maintenance sweep's look for builds whose worker stopped.
CREATE INDEX idx_preview_builds_unfinished ON preview_builds (started_at) WHERE status IN ('queued', 'building');
CREATE INDEX idx_preview_builds_requested_by ON preview_builds (requested_by);
