//! Rule breakers for the mutation check of the conformance suite (issue 11 item 4): each one
//! makes a reference client skip one rule of the seed's checklist, so that `tests/mutations.sh`
//! can show the suite goes red for every one. They exist only in builds with the cargo feature
//! `mutations` (never in the release binary), and one is chosen at run time by
//! `ENTRA_MOCK_MUTATION=<name>`.

/// One broken rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// The BFF's callback stops checking `state` against the browser's login-state cookie.
    BffSkipsState,
    /// The BFF's session cookie loses `HttpOnly`.
    BffCookieNotHttpOnly,
    /// The API stops checking `aud`.
    ApiSkipsAudience,
    /// The API stops checking `exp`.
    ApiSkipsExpiry,
    /// The API accepts unsigned tokens (`alg: none`).
    ApiAcceptsAlgNone,
    /// The SPA keeps its tokens in `localStorage`.
    SpaUsesLocalStorage,
}

impl Mutation {
    pub const ALL: [Mutation; 6] = [
        Mutation::BffSkipsState,
        Mutation::BffCookieNotHttpOnly,
        Mutation::ApiSkipsAudience,
        Mutation::ApiSkipsExpiry,
        Mutation::ApiAcceptsAlgNone,
        Mutation::SpaUsesLocalStorage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutation::BffSkipsState => "bff-skips-state",
            Mutation::BffCookieNotHttpOnly => "bff-cookie-not-httponly",
            Mutation::ApiSkipsAudience => "api-skips-aud",
            Mutation::ApiSkipsExpiry => "api-skips-exp",
            Mutation::ApiAcceptsAlgNone => "api-accepts-alg-none",
            Mutation::SpaUsesLocalStorage => "spa-uses-localstorage",
        }
    }

    /// Whether this rule is broken in this process.
    pub fn active(self) -> bool {
        #[cfg(feature = "mutations")]
        {
            std::env::var("ENTRA_MOCK_MUTATION").is_ok_and(|m| m == self.name())
        }
        #[cfg(not(feature = "mutations"))]
        {
            false
        }
    }
}
