-- A sign-in flow in progress travels sealed in its pages (`ctx`, src/signin/ctx.rs) instead of
-- being stored: no write at /authorize, no read or write at each step, and nothing an
-- anonymous request can leave behind (issue 12). Flows stored by an earlier version end here.
DROP TABLE signin_flows;
