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
