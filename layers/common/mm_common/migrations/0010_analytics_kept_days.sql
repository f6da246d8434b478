-- Admin analytics over a year (issue 13): every series is counted once per ended day and kept, not only
-- messages (0009). Counting a year of generation jobs (tokens per model), deployments, failed jobs and sign-ups,
-- and probing every chat for active projects, on each look at the dashboard cost more than the latency budget.
--
-- A day is counted an hour after it ended: every time column counted (users.created_at,
-- generation_jobs.finished_at, deployment_logs.completed_at, messages.created_at, project_versions.created_at)
-- is the now() of the transaction that wrote it, and an ended job or deployment never changes again, so no
-- transaction still open can add to a day by then. Rows deleted later (an account, a project or an organization
-- deleted, with its chats, jobs and deployments) stay counted: a kept day says what happened on it.
ALTER TABLE analytics_daily_counts DROP CONSTRAINT analytics_daily_counts_metric_check;
ALTER TABLE analytics_daily_counts ADD CONSTRAINT analytics_daily_counts_metric_check CHECK (metric IN (
    'messages',
    'signups',
    'failed_jobs',
    'deployments_succeeded',
    'deployments_failed',
    -- The day's tokens over every model; its row says the day's analytics_daily_tokens rows are kept.
    'tokens',
    -- The projects active on the day; its row says the day is folded into analytics_project_activity.
    'active_projects'
));

-- Tokens (prompt + completion) of the generation jobs that succeeded on a day, per model. model_id is not a
-- foreign key: a model deleted later keeps its day's rows, read as "a model since deleted" (as its jobs are: their
-- model_id became NULL, which is kept as NULL when the day is counted after the deletion).
CREATE TABLE analytics_daily_tokens (
    day         DATE NOT NULL,
    model_id    UUID,
    tokens      BIGINT NOT NULL CHECK (tokens >= 0),
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One row per day and model, NULL (a model since deleted) included.
CREATE UNIQUE INDEX analytics_daily_tokens_day_model
    ON analytics_daily_tokens (day, COALESCE(model_id, '00000000-0000-0000-0000-000000000000'::uuid));

-- Active projects (a message or a version in the last 7 and 30 days) without probing every chat on each look:
-- each project's latest activity over the ended days, folded in once per day, so a request reads one row per
-- project and looks at the days not ended only for the projects not active in the last 7 days already. No
-- foreign key: a project deleted while its activity is folded in must not fail the dashboard; deleted projects
-- are never counted (the read joins the live ones).
CREATE TABLE analytics_project_activity (
    project_id UUID PRIMARY KEY,
    last_at    TIMESTAMPTZ NOT NULL
);

-- The versions of the days folded in.
CREATE INDEX idx_project_versions_created ON project_versions (created_at);
