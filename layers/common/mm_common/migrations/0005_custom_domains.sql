-- Custom domains (issue 11): one project per host name. Hosts are stored lowercase by the deploy
-- API; the index makes a second claim of the same host fail even when two requests race.
CREATE UNIQUE INDEX uq_projects_custom_domain ON projects (custom_domain) WHERE custom_domain IS NOT NULL;
