-- Deploy (issue 11): what a project deploys with, the names it owns on Easypanel and Gitea, and
-- each deployment's step timeline and logs.

-- A project's deploy choices and the outside names recorded at its first deploy. Names are
-- reused forever after (a slug change does not move a running app); NULL until first created.
ALTER TABLE projects
    ADD COLUMN deploy_database       TEXT NOT NULL DEFAULT 'postgres'
                                     CONSTRAINT projects_deploy_database_check
                                     CHECK (deploy_database IN ('postgres', 'mariadb', 'none')),
    -- "<owner>/<repo>" of the Gitea backup/deploy repository.
    ADD COLUMN gitea_repo_full_name  TEXT,
    -- The database's effective credentials, sealed with KMS (mm_common.crypto.seal); never
    -- returned by the API.
    ADD COLUMN database_secret       JSONB,
    ADD COLUMN custom_domain         TEXT,
    ADD COLUMN deployment_stopped    BOOLEAN NOT NULL DEFAULT FALSE;

COMMENT ON COLUMN projects.easypanel_project_id IS 'Easypanel project name (lowercase, ^[a-z0-9-_]+$).';
COMMENT ON COLUMN projects.easypanel_app_id IS 'Easypanel app service name.';
COMMENT ON COLUMN projects.easypanel_database_id IS 'Easypanel database service name.';

ALTER TABLE deployment_logs
    ADD COLUMN database        TEXT NOT NULL DEFAULT 'postgres'
                               CONSTRAINT deployment_logs_database_check
                               CHECK (database IN ('postgres', 'mariadb', 'none')),
    -- The Gitea commit deployed (sha), and the URL it went live at.
    ADD COLUMN commit_sha      TEXT,
    ADD COLUMN url             TEXT,
    -- Whether Prepare added a generated Dockerfile to the deployed commit (shown to the user).
    ADD COLUMN dockerfile_generated BOOLEAN NOT NULL DEFAULT FALSE,
    -- The Easypanel build action followed by WaitForBuild, and its log as last read.
    ADD COLUMN build_action_id TEXT,
    ADD COLUMN build_log       TEXT;

ALTER TABLE deployment_logs DROP CONSTRAINT deployment_logs_kind_check;
ALTER TABLE deployment_logs ADD CONSTRAINT deployment_logs_kind_check
    CHECK (kind IN ('deploy', 'update', 'redeploy', 'rollback'));

-- The step timeline: one row per state of the deploy state machine a deployment reached.
CREATE TABLE deployment_steps (
    deployment_id UUID NOT NULL REFERENCES deployment_logs (id) ON DELETE CASCADE,
    step          TEXT NOT NULL
                  CONSTRAINT deployment_steps_step_check
                  CHECK (step IN ('Prepare', 'PushToGitea', 'EnsureDatabase', 'EnsureApp', 'ConfigureEnv',
                                  'TriggerBuild', 'WaitForBuild', 'HealthCheck', 'MarkLive', 'MarkFailed')),
    status        TEXT NOT NULL DEFAULT 'running'
                  CONSTRAINT deployment_steps_status_check
                  CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at      TIMESTAMPTZ,
    -- Each invocation of the step's task (Step Functions retries included) counts one.
    attempts      INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    -- What the user may see of the step (never a secret, never a raw outside answer).
    detail        TEXT,
    PRIMARY KEY (deployment_id, step)
);

-- Our own step log lines, appended by the step handlers, read incrementally by /logs?since=.
CREATE TABLE deployment_log_lines (
    deployment_id UUID NOT NULL REFERENCES deployment_logs (id) ON DELETE CASCADE,
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    step          TEXT,
    line          TEXT NOT NULL,
    PRIMARY KEY (deployment_id, seq)
);
