//! A sign-in flow in progress travels in its pages, as Entra's own `ctx` does: the flow (the
//! request it answers, the browser it is bound to, its step), sealed with a key of the server's
//! run ([`crate::flows::Flows`]), is the hidden `ctx` field of each page's form and comes back with the post,
//! beside `flowToken`, the flow's CSRF token. A step neither reads nor writes a flow in the
//! store, and an anonymous `/authorize` leaves nothing behind (issue 12: the flow's insert, its
//! read at every post and its update at every page were four of a password sign-in's eight
//! round trips to SQLite). The server remembers which flows ended ([`Deps::end_flow`]), so that a
//! flow issues one reply and a page posted after it is refused, as a deleted flow was. The key
//! and that memory live as long as the server's run: a restart, or `POST /_mock/reset`, ends
//! every sign-in in progress (AADSTS50089, as for an expired flow).

use serde::{Deserialize, Serialize};

use super::{Deps, Flow, FLOW_LIFETIME_SECS};
use crate::crypto::{digest_eq, sha256};
use crate::error::Error;

/// Authenticated with every sealed flow, so that nothing sealed for another use opens as one.
const PURPOSE: &[u8] = b"entra-mock sign-in flow";

/// What a page carries.
#[derive(Serialize, Deserialize)]
pub(super) struct Carried {
    /// Names the flow among those that ended ([`crate::flows::Flows::next_id`]).
    pub id: u64,
    /// `flowToken`, posted back beside `ctx`.
    pub csrf: String,
    /// Unix seconds of the virtual clock.
    pub expires_at: i64,
    pub flow: Flow,
}

impl Carried {
    /// A new flow, from now.
    pub fn start(flow: Flow, id: u64, now: i64) -> Carried {
        Carried {
            id,
            csrf: crate::crypto::random_b64(32),
            expires_at: now + FLOW_LIFETIME_SECS,
            flow,
        }
    }
}

/// SHA-256 (hex) of the browser's `esctx` cookie, which a flow is bound to.
pub(super) fn browser_digest(browser: &str) -> String {
    hex::encode(sha256(browser.as_bytes()))
}

impl Deps<'_> {
    /// The `ctx` field of the flow's page.
    pub(super) fn seal(&self, carried: &Carried) -> Result<String, Error> {
        let json = serde_json::to_vec(carried).map_err(|e| Error::Internal(e.into()))?;
        self.flows
            .seal(PURPOSE, &json)
            .map_err(|e| Error::Internal(e.into()))
    }

    /// The flow a post carried, if this server's run sealed it, it has neither ended nor
    /// expired, the post's `flowToken` is its own and the browser is the one that started it
    /// (no login CSRF); else AADSTS50089, as Entra answers a stale or foreign flow.
    pub(super) fn open(&self, ctx: &str, csrf: &str, browser: &str) -> Result<Carried, Error> {
        let json = self
            .flows
            .open(PURPOSE, ctx)
            .ok_or(Error::SignInSessionInvalid)?;
        let carried: Carried =
            serde_json::from_slice(&json).map_err(|_| Error::SignInSessionInvalid)?;
        let live = carried.expires_at > self.now && !self.flows.has_ended(carried.id);
        let own = digest_eq(carried.csrf.as_bytes(), csrf.as_bytes())
            && digest_eq(
                carried.flow.browser.as_bytes(),
                browser_digest(browser).as_bytes(),
            );
        (live && own)
            .then_some(carried)
            .ok_or(Error::SignInSessionInvalid)
    }

    /// Ends the flow (exactly once: AADSTS50089 for every later caller).
    pub(super) fn end_flow(&self, id: u64) -> Result<(), Error> {
        self.flows
            .end(id)
            .then_some(())
            .ok_or(Error::SignInSessionInvalid)
    }

    /// Opens again a flow ended by [`Self::end_flow`] whose work then wrote nothing.
    pub(super) fn reopen_flow(&self, id: u64) {
        self.flows.reopen(id)
    }
}
