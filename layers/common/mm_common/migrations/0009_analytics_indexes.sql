-- Admin analytics and failure logs (issue 13): each series and list reads a range of an index on its time
-- column, so the dashboard costs what the window holds, not what the tables hold. Messages per day already
-- have idx_messages_created; users per day idx_users_created.

-- Failed generation jobs: the failures per day, the last 24 hours, and the failed-jobs log (newest first).
CREATE INDEX idx_generation_jobs_failed ON generation_jobs (finished_at DESC, id DESC) WHERE status = 'failed';

-- Tokens per day and model, read from the index alone.
CREATE INDEX idx_generation_jobs_succeeded ON generation_jobs (finished_at)
    INCLUDE (model_id, prompt_tokens, completion_tokens) WHERE status = 'succeeded';

-- Deployments ended per day (succeeded and failed), read from the index alone.
CREATE INDEX idx_deployment_logs_ended ON deployment_logs (completed_at) INCLUDE (status)
    WHERE status IN ('success', 'failed');

-- Failed deployments: the last 24 hours and the failed-deployments log (newest first).
CREATE INDEX idx_deployment_logs_failed ON deployment_logs (completed_at DESC, id DESC) WHERE status = 'failed';

-- Invoices paid in a period.
CREATE INDEX idx_invoices_paid ON invoices (paid_at) WHERE status = 'paid';

-- A project's latest version (active projects: a message or a version in the last 7/30 days).
CREATE INDEX idx_project_versions_project_created ON project_versions (project_id, created_at DESC);

-- Messages per day, counted once per day that has ended: a million messages in the window would otherwise be
-- counted on every look at the dashboard. Written by the admin function when it first needs a day (a day is
-- counted an hour after it ended, when no transaction that began on it can still commit a message), read ever
-- after; the day in progress is counted live. A message deleted later (its project deleted) stays counted: the
-- number is the messages sent that day.
CREATE TABLE analytics_daily_counts (
    metric      TEXT NOT NULL CONSTRAINT analytics_daily_counts_metric_check CHECK (metric IN ('messages')),
    day         DATE NOT NULL,
    count       BIGINT NOT NULL CHECK (count >= 0),
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (metric, day)
);
