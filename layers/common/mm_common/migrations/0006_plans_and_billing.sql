-- Billing (issue 12): the tiers' limits and display prices as data (admins and co-admins change them
-- without a deploy), and what the Stripe webhook keeps about an organization's subscription.

CREATE TABLE plans (
    tier                 VARCHAR(50) PRIMARY KEY
                         CONSTRAINT plans_tier_check CHECK (tier IN ('free', 'pro', 'enterprise')),
    name                 VARCHAR(100) NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    -- NULL: unlimited.
    max_projects         INTEGER CHECK (max_projects >= 0),
    max_members          INTEGER CHECK (max_members >= 1),
    max_deployments      INTEGER CHECK (max_deployments >= 0),
    monthly_ai_tokens    BIGINT CHECK (monthly_ai_tokens >= 0),
    custom_domains       BOOLEAN NOT NULL DEFAULT FALSE,
    -- What the pricing page shows, in minor units of `currency` (Stripe's prices, found by lookup key,
    -- are what is charged). NULL: no fixed price ("contact us").
    monthly_price_cents  INTEGER CHECK (monthly_price_cents >= 0),
    yearly_price_cents   INTEGER CHECK (yearly_price_cents >= 0),
    currency             CHAR(3) NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    updated_by           UUID REFERENCES users (id) ON DELETE SET NULL,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The spec's tiers.
INSERT INTO plans (tier, name, description, max_projects, max_members, max_deployments, monthly_ai_tokens,
                   custom_domains, monthly_price_cents, yearly_price_cents)
VALUES
    ('free', 'Free', 'Try it out: one project, one deployed app.', 1, 1, 1, 10000, FALSE, 0, 0),
    ('pro', 'Pro', 'For builders shipping apps: more projects, a team, custom domains.', 10, 5, 10, NULL, TRUE,
     2900, 29000),
    ('enterprise', 'Enterprise', 'Unlimited everything, set up with us.', NULL, NULL, NULL, NULL, TRUE, NULL, NULL);

ALTER TABLE organizations
    -- 'month' or 'year', from the subscription's price.
    ADD COLUMN subscription_interval VARCHAR(10)
                                     CONSTRAINT organizations_subscription_interval_check
                                     CHECK (subscription_interval IN ('month', 'year')),
    -- When the subscription last became past_due: the tier holds for the grace period after it.
    ADD COLUMN past_due_since        TIMESTAMPTZ;

ALTER TABLE invoices
    ADD COLUMN number        VARCHAR(100),
    ADD COLUMN period_start  TIMESTAMPTZ,
    ADD COLUMN period_end    TIMESTAMPTZ;

CREATE TRIGGER trg_plans_updated_at BEFORE UPDATE ON plans
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
