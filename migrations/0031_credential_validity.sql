-- When a client secret or certificate may be used: Graph's startDateTime and endDateTime of a
-- passwordCredential or keyCredential, as Unix seconds. NULL leaves that side open.
ALTER TABLE client_secrets ADD COLUMN start_at INTEGER;
ALTER TABLE client_secrets ADD COLUMN end_at INTEGER;
ALTER TABLE client_certificates ADD COLUMN start_at INTEGER;
ALTER TABLE client_certificates ADD COLUMN end_at INTEGER;
