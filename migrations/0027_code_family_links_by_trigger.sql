-- A code's family link (code_families: the family its code started, or a family's revoked
-- mark) is needed while its code is stored (a replayed code revokes the family) or while its
-- family has a refresh token (tokens stored later are born revoked). It went in the background
-- purge by an anti-join that read every link while it held the writer (32-51 ms at 100,000
-- links, every 30 s). Now it goes when the last of those two goes, by these triggers, whose
-- statements find their rows by index: the work is that of the rows deleted, whatever the size
-- of the table. (https://www.sqlite.org/lang_createtrigger.html)
CREATE TRIGGER auth_codes_unlink AFTER DELETE ON auth_codes
BEGIN
    DELETE FROM code_families WHERE code_sha256 = OLD.code_sha256
      AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = code_families.family_id);
END;

CREATE TRIGGER refresh_tokens_unlink AFTER DELETE ON refresh_tokens
WHEN NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = OLD.family_id)
BEGIN
    DELETE FROM code_families WHERE family_id = OLD.family_id
      AND NOT EXISTS (SELECT 1 FROM auth_codes WHERE code_sha256 = code_families.code_sha256);
END;

-- The links the purge had not yet deleted.
DELETE FROM code_families
WHERE code_sha256 NOT IN (SELECT code_sha256 FROM auth_codes)
  AND family_id NOT IN (SELECT family_id FROM refresh_tokens);
