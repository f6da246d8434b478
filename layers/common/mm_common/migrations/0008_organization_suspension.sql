-- Platform administration (issue 13): an admin suspends an organization (its members can read but change
-- nothing; its deployments keep running), and says why a user was banned.

ALTER TABLE organizations
    -- Set while suspended; mm_common.auth.require refuses the members' changes (403 organization_suspended).
    ADD COLUMN suspended_at      TIMESTAMPTZ,
    ADD COLUMN suspension_reason TEXT;

ALTER TABLE users
    -- Why the user was banned (shown to admins); cleared on unban, with banned_at.
    ADD COLUMN ban_reason TEXT;
