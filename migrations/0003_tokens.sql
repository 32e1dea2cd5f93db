-- Part 3 (tokens). A replayed authorization code revokes its grant, even when the replay comes
-- before the first redemption has stored its refresh token: the family remembers the revocation
-- and refresh tokens stored later in it are born revoked. A family revoked otherwise (RFC 7009,
-- refresh-token reuse) gets a row of its own keyed by a digest of its id.
ALTER TABLE code_families ADD COLUMN revoked_at INTEGER;
CREATE INDEX code_families_family ON code_families(family_id);
