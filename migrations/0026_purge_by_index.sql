-- The background purge's deletions find their rows by index (0015 meant them to): the deletion
-- of dead refresh tokens has three conditions joined by OR, and SQLite serves an OR by index
-- only when every one of its terms has an index, so it read the whole table while it held the
-- writer; ended sessions had no index at all. Partial indexes, so that only the rows they
-- cover pay for them: a SPA chain's tokens (its fixed lifetime), revoked tokens and ended
-- sessions. A web app's token, the common case, writes no more than before.
-- (https://www.sqlite.org/optoverview.html#or_optimizations,
-- https://www.sqlite.org/partialindex.html)
CREATE INDEX refresh_tokens_spa_family ON refresh_tokens(family_created_at) WHERE spa = 1;
CREATE INDEX refresh_tokens_revoked ON refresh_tokens(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sso_sessions_ended ON sso_sessions(ended_at) WHERE ended_at IS NOT NULL;
