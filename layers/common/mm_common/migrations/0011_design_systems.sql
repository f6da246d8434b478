-- Design systems (issue 14): the spec's design_systems table holds the versioned JSON document
-- (mm_common/design/schema.json) of a project's master and of each page override, and every change
-- is kept in design_system_revisions so any earlier state can be restored. mm_common.design_systems is
-- the only writer of both tables.
--
-- Nothing wrote design_systems before this migration, so the NOT NULL columns need no default.

-- NULL page_name: the project's master. A page row's document is its override of the master (layout
-- and rules only: mm_common.design.document.PAGE_KEYS). page_slug is the page's file name
-- (design-system/pages/<page_slug>.md), so two names that would write one file are one page.
ALTER TABLE design_systems
    ADD COLUMN page_name      VARCHAR(100)
                              CONSTRAINT design_systems_page_name_length CHECK (length(btrim(page_name)) > 0),
    ADD COLUMN page_slug      VARCHAR(100),
    ADD COLUMN document       JSONB NOT NULL,
    ADD COLUMN schema_version INTEGER NOT NULL CONSTRAINT design_systems_schema_version_positive
                              CHECK (schema_version > 0),
    ADD COLUMN revision       INTEGER NOT NULL DEFAULT 1 CONSTRAINT design_systems_revision_positive
                              CHECK (revision > 0),
    ADD COLUMN updated_by     UUID REFERENCES users (id) ON DELETE SET NULL,
    ADD CONSTRAINT design_systems_page_slug_with_name CHECK ((page_name IS NULL) = (page_slug IS NULL));

-- One master per project, one row per page of a project.
CREATE UNIQUE INDEX design_systems_one_master ON design_systems (project_id) WHERE page_name IS NULL;
CREATE UNIQUE INDEX design_systems_one_per_page ON design_systems (project_id, page_slug) WHERE page_name IS NOT NULL;
CREATE INDEX idx_design_systems_updated_by ON design_systems (updated_by);

CREATE TABLE design_system_revisions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    design_system_id UUID NOT NULL REFERENCES design_systems (id) ON DELETE CASCADE,
    -- design_systems.revision when this state was written: 1, 2, ... per design system.
    revision         INTEGER NOT NULL CONSTRAINT design_system_revisions_revision_positive CHECK (revision > 0),
    document         JSONB NOT NULL,
    schema_version   INTEGER NOT NULL CONSTRAINT design_system_revisions_schema_version_positive
                     CHECK (schema_version > 0),
    change           VARCHAR(20) NOT NULL
                     CONSTRAINT design_system_revisions_change_check
                     CHECK (change IN ('generated', 'edited', 'restored')),
    -- The revision a 'restored' one brought back.
    restored_from_id UUID REFERENCES design_system_revisions (id) ON DELETE SET NULL,
    -- The project version holding the files this state rendered (versions may be pruned).
    version_id       UUID REFERENCES project_versions (id) ON DELETE SET NULL,
    created_by       UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT design_system_revisions_number_unique UNIQUE (design_system_id, revision),
    CONSTRAINT design_system_revisions_restored_only CHECK (restored_from_id IS NULL OR change = 'restored')
);

CREATE INDEX idx_design_system_revisions_restored_from ON design_system_revisions (restored_from_id);
CREATE INDEX idx_design_system_revisions_version ON design_system_revisions (version_id);
CREATE INDEX idx_design_system_revisions_created_by ON design_system_revisions (created_by);
