//! Applying fault rules (`/_mock/faults`) at the endpoints: the delay, then the answer a rule asks
//! for. Endpoints call [`check`] first and hand anything left (a forced /authorize error, a stale
//! key set, a `Cache-Control`) to their own rendering.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, ResponseError};

use crate::error::Error;
use crate::mock::faults::{FaultEndpoint, Outcome, RequestFacts};
use crate::state::AppState;

/// The fault a request meets, after its delay; `None` when no rule matched or the rule only delays.
pub async fn check(
    state: &AppState,
    endpoint: FaultEndpoint,
    facts: RequestFacts<'_>,
) -> Option<Outcome> {
    let fired = state.faults.fire(endpoint, facts)?;
    if fired.delay_ms > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(fired.delay_ms)).await;
    }
    match fired.outcome {
        Outcome::Pass => None,
        other => Some(other),
    }
}

/// The answer to an error or dropped-connection fault; other outcomes come back for the endpoint
/// to apply.
pub fn respond(outcome: Outcome) -> Result<HttpResponse, Outcome> {
    match outcome {
        Outcome::Error { forced } => Ok(Error::Forced(Box::new(forced)).error_response()),
        Outcome::Drop => Ok(dropped()),
        other => Err(other),
    }
}

/// A response whose body fails at once: the server closes the connection without a complete
/// answer, as a network failure would.
pub fn dropped() -> HttpResponse {
    HttpResponse::Ok().body(Dropped)
}

struct Dropped;

impl MessageBody for Dropped {
    type Error = std::io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::other(
            "connection dropped by a fault rule",
        ))))
    }
}
