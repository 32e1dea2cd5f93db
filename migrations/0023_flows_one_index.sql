-- A sign-in flow always expires a fixed time after it starts (src/signin/mod.rs,
-- FLOW_LIFETIME_SECS; both times from the same clock reading), so its expiry orders the flows as
-- their start does: the cap on flows (src/store/purge.rs) keeps the newest by `expires_at`, and
-- the index on `created_at` goes. Each flow's insert and delete write one b-tree fewer: two of
-- the about thirty pages a sign-in writes to the WAL (issue 12).
DROP INDEX signin_flows_created;
