-- The app's PostgreSQL role: normal rights on every table, but on the audit trail
-- (audit_event, audit_seal) only INSERT and SELECT. Not the owner, so it cannot TRUNCATE,
-- ALTER TABLE ... DISABLE TRIGGER or DROP TRIGGER either. See README, "Running as a
-- restricted PostgreSQL role". Run as the owner, after `aefi db upgrade`, and again after
-- every upgrade that adds tables:
--   psql -v ON_ERROR_STOP=1 -d aefi -f scripts/pg_restricted_role.sql
-- (The role itself: CREATE ROLE aefi_app LOGIN PASSWORD '...'; once.)
GRANT USAGE ON SCHEMA public TO aefi_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO aefi_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO aefi_app;
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_event, audit_seal FROM aefi_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM aefi_app;
