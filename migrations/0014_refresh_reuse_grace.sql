-- A per-app grace period for refresh-token reuse under the `detect` policy (issue 12 item 8):
-- a rotated token presented again within it is answered again instead of revoking its family.
ALTER TABLE applications ADD COLUMN refresh_reuse_grace_secs INTEGER NOT NULL DEFAULT 0
    CHECK (refresh_reuse_grace_secs BETWEEN 0 AND 300);
