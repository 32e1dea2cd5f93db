-- Smart lockout "tracks the last three bad password hashes to avoid incrementing the lockout
-- counter for the same password" (howto-password-smart-lockout): the fingerprints of a user's
-- last three wrong passwords, newest first, separated by spaces.
ALTER TABLE users ADD COLUMN recent_bad_passwords TEXT NOT NULL DEFAULT '';
