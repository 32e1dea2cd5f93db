-- Rotation in one statement (issue 12: a refresh grant's write used to be four round trips to
-- the writer connection: BEGIN, UPDATE the old token, INSERT its successor, COMMIT). The
-- successor is inserted by `INSERT ... SELECT` from its predecessor's row, so it is stored only
-- while the predecessor may still be used, and this trigger marks the predecessor used in the
-- same statement: both rows change together or neither does.
ALTER TABLE refresh_tokens ADD COLUMN rotated_from BLOB;

CREATE TRIGGER refresh_tokens_rotate AFTER INSERT ON refresh_tokens
WHEN NEW.rotated_from IS NOT NULL
BEGIN
    UPDATE refresh_tokens SET used_at = COALESCE(used_at, NEW.created_at)
    WHERE token_sha256 = NEW.rotated_from;
END;

-- A code's redemption in one statement too (it was BEGIN, UPDATE the code, INSERT the family
-- link, INSERT the refresh token, COMMIT): the grant's first refresh token is inserted from the
-- code's row, only while the code is unused, and this trigger marks the code used and links it
-- to the token's family (so that a replayed code revokes the family). A redemption without a
-- refresh token is a single UPDATE of the code.
ALTER TABLE refresh_tokens ADD COLUMN from_code BLOB;

CREATE TRIGGER refresh_tokens_redeem AFTER INSERT ON refresh_tokens
WHEN NEW.from_code IS NOT NULL
BEGIN
    UPDATE auth_codes SET consumed_at = NEW.created_at WHERE code_sha256 = NEW.from_code;
    INSERT OR IGNORE INTO code_families (code_sha256, family_id)
    VALUES (NEW.from_code, NEW.family_id);
END;

-- refresh_tokens_user_created (migration 0015) starts with user_oid and serves every query by
-- user: the older index on user_oid alone was one more B-tree for each token stored.
DROP INDEX refresh_tokens_user;

-- The app a code is issued to joins the sign-in session it was issued through (so front-channel
-- logout reaches it), by the statement that stores the code: one round trip fewer at the end
-- of every sign-in.
CREATE TRIGGER auth_codes_session_app AFTER INSERT ON auth_codes
BEGIN
    INSERT OR IGNORE INTO session_apps (session_id, client_id)
    VALUES (NEW.session_id, NEW.client_id);
END;
