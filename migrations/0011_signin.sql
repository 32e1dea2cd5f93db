-- Smart lockout (issue 7 item 2): failed passwords count per user; the tenant's threshold and
-- duration (Entra's defaults: 10 failures, 60 seconds).
ALTER TABLE users ADD COLUMN password_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN lockout_threshold INTEGER NOT NULL DEFAULT 10;
ALTER TABLE tenants ADD COLUMN lockout_secs INTEGER NOT NULL DEFAULT 60;
