//! What one connection does in each load phase. Every answer is checked (status, and that the
//! body is what the endpoint answers); a wrong one panics.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::http::{form, json_str, jwt_count, Conn, Response};
use crate::load::Worker;
use crate::servers::{Target, WebApp};
use crate::ticker::TotpClock;
use crate::{ALICE, BFF, PASSWORD};

/// The PKCE verifier of every sign-in (a constant, as the integration tests use).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-entra-mock-bench";
/// The TOTP secret of the bench users (bob's fixture secret).
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub const STEP_SECS: i64 = 30;

pub fn fail(what: &str, res: &Response) -> ! {
    panic!(
        "{what}: unexpected answer {} {}",
        res.status,
        res.snippet().replace('\n', " ")
    );
}

/// `GET path`, 200 with `expect` in the body.
pub struct Get {
    pub conn: Conn,
    path: String,
    expect: &'static str,
}

impl Get {
    pub fn new(conn: Conn, path: &str, expect: &'static str) -> Get {
        Get {
            conn,
            path: path.to_string(),
            expect,
        }
    }
}

impl Worker for Get {
    async fn op(&mut self) {
        let r = self
            .conn
            .get(&self.path, &[])
            .await
            .unwrap_or_else(|e| panic!("GET {}: {e}", self.path));
        if r.status != 200 || !r.text().contains(self.expect) {
            fail(&format!("GET {}", self.path), &r);
        }
    }
}

/// A token request with a fixed form (`client_credentials`): 200 with an access token.
pub struct Token {
    pub conn: Conn,
    path: String,
    form: Vec<u8>,
    pub sigs: u32,
}

impl Token {
    pub fn new(conn: Conn, target: &Target) -> Token {
        Token {
            conn,
            path: target.token.clone(),
            form: target.cc_form.clone().into_bytes(),
            sigs: 0,
        }
    }
}

impl Worker for Token {
    async fn op(&mut self) {
        let r = self
            .conn
            .post_form(&self.path, &[], &self.form)
            .await
            .unwrap_or_else(|e| panic!("POST {}: {e}", self.path));
        if r.status != 200 || json_str(r.text(), "access_token").is_none() {
            fail("client_credentials token", &r);
        }
        self.sigs = jwt_count(r.text());
    }
}

/// Mints a refresh token for alice and the BFF through `POST /_mock/tokens`.
async fn mint_refresh_token(target: &Target) -> String {
    let mut c = target.conn();
    let body = serde_json::json!({"type": "refresh", "client_id": BFF, "user": ALICE});
    let r = c
        .post_json("/_mock/tokens", &body.to_string())
        .await
        .expect("POST /_mock/tokens");
    match json_str(r.text(), "token") {
        Some(t) if r.status == 200 => t.to_string(),
        _ => fail("minting a refresh token", &r),
    }
}

/// A refresh token to start a refresh phase with: entra-mock mints one for alice and the BFF
/// through `POST /_mock/tokens`; a peer gives one at the end of a sign-in ([`PeerSignIn`]).
pub async fn first_refresh_token(target: &Target) -> String {
    let Some(peer) = target.peer else {
        return mint_refresh_token(target).await;
    };
    let mut signin = PeerSignIn::new(target.conn(), target);
    signin.op().await;
    signin
        .refresh_token
        .unwrap_or_else(|| panic!("{}: a sign-in without a refresh token", peer.name()))
}

/// Redeems its own latest refresh token (entra-mock and oauth2-mock-server rotate them;
/// oidc-provider answers the same one to a confidential client): 200 with tokens and a refresh
/// token.
pub struct Refresh {
    pub conn: Conn,
    path: String,
    web: WebApp,
    token: String,
    pub sigs: u32,
}

impl Refresh {
    pub fn new(conn: Conn, target: &Target, token: String) -> Refresh {
        Refresh {
            conn,
            path: target.token.clone(),
            web: target.web,
            token,
            sigs: 0,
        }
    }
}

impl Worker for Refresh {
    async fn op(&mut self) {
        let body = form([
            ("grant_type", "refresh_token"),
            ("client_id", self.web.client_id),
            ("client_secret", self.web.secret),
            ("refresh_token", &self.token),
        ]);
        let r = self
            .conn
            .post_form(&self.path, &[], body.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("POST {}: {e}", self.path));
        let text = r.text();
        match (
            json_str(text, "access_token"),
            json_str(text, "refresh_token"),
        ) {
            (Some(_), Some(next)) if r.status == 200 => {
                self.token = next.to_string();
                self.sigs = jwt_count(text);
            }
            _ => fail("refresh_token grant", &r),
        }
    }
}

/// The users and shared state of the interactive sign-ins.
pub struct SignInSetup {
    authorize: String,
    web: WebApp,
    token: String,
    upns: Vec<String>,
    /// TOTP: the last step each user used (a code is accepted once: the step must grow).
    last_step: Vec<AtomicI64>,
    totp: Option<totp_rs::TOTP>,
    pub waits: AtomicU64,
}

impl SignInSetup {
    /// alice (password only) signing in to the BFF.
    pub fn password(target: &Target) -> SignInSetup {
        Self::new(target, vec![ALICE.to_string()], None)
    }

    /// `n` bench users with TOTP (mfa required), created through `POST /_mock/users`.
    pub async fn totp(target: &Target, n: usize) -> SignInSetup {
        let mut c = target.conn();
        let mut upns = Vec::new();
        for i in 0..n {
            let upn = format!("bench-totp-{i}@contoso.onmicrosoft.com");
            let user = serde_json::json!({
                "id": format!("be7c0000-0000-4000-8000-{i:012}"),
                "userPrincipalName": upn,
                "displayName": format!("Bench TOTP {i}"),
                "password": PASSWORD,
                "mfa": "required",
                "totp": {"secret": TOTP_SECRET, "algorithm": "SHA1", "digits": 6, "period": 30},
            });
            let r = c
                .post_json("/_mock/users", &user.to_string())
                .await
                .expect("POST /_mock/users");
            if r.status != 201 {
                fail("creating a bench user", &r);
            }
            upns.push(upn);
        }
        let secret = totp_rs::Secret::Encoded(TOTP_SECRET.into())
            .to_bytes()
            .expect("base32");
        let totp = totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            STEP_SECS as u64,
            secret,
            None,
            String::new(),
        );
        Self::new(target, upns, Some(totp))
    }

    fn new(target: &Target, upns: Vec<String>, totp: Option<totp_rs::TOTP>) -> SignInSetup {
        SignInSetup {
            authorize: authorize_request(target, "openid profile offline_access", &[]),
            web: target.web,
            token: target.token.clone(),
            last_step: upns.iter().map(|_| AtomicI64::new(i64::MIN)).collect(),
            upns,
            totp,
            waits: AtomicU64::new(0),
        }
    }

    pub fn users(&self) -> usize {
        self.upns.len()
    }
}

/// One complete interactive sign-in per operation, as a browser without JavaScript: GET
/// /authorize (page with flow id and CSRF token), POST the username, POST the password, for
/// TOTP users POST the one-time code, then the 302 back to the BFF with `code`, and the BFF's
/// `authorization_code` redemption with the client secret and PKCE verifier. Each sign-in starts
/// with an empty cookie jar (a new browser), so no SSO session short-cuts the pages; the TCP
/// connection is kept.
pub struct SignIn {
    browser: Browser,
    setup: Arc<SignInSetup>,
    /// Indexes into `setup.upns` this connection signs in (its own, when TOTP).
    users: Vec<usize>,
    next: usize,
    clock: Option<TotpClock>,
    pub sigs: u32,
}

impl SignIn {
    pub fn new(
        conn: Conn,
        setup: Arc<SignInSetup>,
        users: Vec<usize>,
        clock: Option<TotpClock>,
    ) -> SignIn {
        assert!(!users.is_empty(), "a sign-in connection needs a user");
        SignIn {
            browser: Browser::new(conn),
            setup,
            users,
            next: 0,
            clock,
            sigs: 0,
        }
    }
}

/// A browser without JavaScript on one keep-alive connection: a cookie jar (names only: the
/// servers here read the cookies they set and ignore the others) and form posting.
struct Browser {
    conn: Conn,
    jar: Vec<(String, String)>,
}

impl Browser {
    fn new(conn: Conn) -> Browser {
        Browser {
            conn,
            jar: Vec::new(),
        }
    }

    async fn send(&mut self, path: &str, body: Option<&str>) -> Response {
        let cookie = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = Vec::new();
        if !cookie.is_empty() {
            headers.push(("Cookie", cookie.as_str()));
        }
        let res = match body {
            None => self.conn.get(path, &headers).await,
            Some(b) => self.conn.post_form(path, &headers, b.as_bytes()).await,
        }
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        for sc in res.headers("set-cookie") {
            let pair = sc.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                let k = k.trim();
                self.jar.retain(|(n, _)| n != k);
                if !v.is_empty() && !sc.to_ascii_lowercase().contains("max-age=0") {
                    self.jar.push((k.to_string(), v.trim().to_string()));
                }
            }
        }
        res
    }

    /// Redeems `code` as `web` with its secret and the PKCE verifier: 200 with an ID token, or
    /// the run stops (`what` names the step).
    async fn redeem(&mut self, token: &str, web: &WebApp, code: &str, what: &str) -> Response {
        let body = form([
            ("grant_type", "authorization_code"),
            ("client_id", web.client_id),
            ("client_secret", web.secret),
            ("code", code),
            ("redirect_uri", web.redirect_uri),
            ("code_verifier", VERIFIER),
        ]);
        let r = self.send(token, Some(&body)).await;
        if r.status != 200 || json_str(r.text(), "id_token").is_none() {
            fail(what, &r);
        }
        r
    }

    /// Posts the page's form: its hidden fields plus `typed`.
    async fn submit(&mut self, page: &Response, typed: &[(&str, &str)]) -> Response {
        let (action, mut fields) =
            parse_form(page.text()).unwrap_or_else(|| fail("a sign-in page without a form", page));
        let action = path_of(&action);
        for (k, v) in typed {
            fields.retain(|(name, _)| name != k);
            fields.push((k.to_string(), v.to_string()));
        }
        let body = form(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.send(&action, Some(&body)).await
    }
}

fn expect_page(res: &Response, marker: &str, what: &str) {
    if res.status != 200 || !res.text().contains(marker) {
        fail(what, res);
    }
}

impl Worker for SignIn {
    async fn op(&mut self) {
        let setup = self.setup.clone();
        let u = self.users[self.next];
        self.next = (self.next + 1) % self.users.len();
        let upn = setup.upns[u].as_str();
        self.browser.jar.clear();

        let page = self.browser.send(&setup.authorize, None).await;
        expect_page(&page, "name=\"loginfmt\"", "GET /authorize (username page)");
        let page = self.browser.submit(&page, &[("loginfmt", upn)]).await;
        expect_page(&page, "name=\"passwd\"", "username (password page)");
        let mut res = self.browser.submit(&page, &[("passwd", PASSWORD)]).await;
        if let Some(mut clock) = self.clock.take() {
            expect_page(&res, "name=\"otc\"", "password (one-time code page)");
            // The server accepts the steps now-1..=now+1 of its clock, each once per user. The
            // ticker does not move the clock while a code is on its way (it waits for the gate),
            // but real time may add one step: `now` or `now + 1` stay valid through that.
            let (step, gate) = loop {
                let gate = clock.gate.clone().read_owned().await;
                let now = *clock.rx.borrow_and_update();
                let c = (setup.last_step[u].load(Ordering::Relaxed) + 1).max(now);
                if c <= now + 1 {
                    break (c, gate);
                }
                drop(gate);
                setup.waits.fetch_add(1, Ordering::Relaxed);
                clock.rx.changed().await.expect("the clock ticker runs");
            };
            let totp = setup.totp.as_ref().expect("a TOTP setup");
            let code = totp.generate((step * STEP_SECS) as u64);
            res = self.browser.submit(&res, &[("otc", &code)]).await;
            drop(gate);
            setup.last_step[u].store(step, Ordering::Relaxed);
            self.clock = Some(clock);
        }
        let code = match res.header("location") {
            Some(l) if res.status == 302 && l.starts_with(setup.web.redirect_uri) => code_in(l),
            _ => None,
        };
        let Some(code) = code else {
            fail("the last sign-in step (a redirect with a code)", &res)
        };
        let r = self
            .browser
            .redeem(
                &setup.token,
                &setup.web,
                &code,
                "authorization_code redemption",
            )
            .await;
        self.sigs = jwt_count(r.text());
    }
}

/// One complete sign-in on a peer, as a browser without JavaScript, with a new cookie jar each
/// time: GET its authorization endpoint, then follow its redirects and post its pages' forms
/// (oidc-provider's development interactions: a login page that takes any name and password,
/// then a consent page, since `offline_access` is asked with `prompt=consent`; oauth2-mock-server
/// shows no page and answers the code at once), up to the redirect back with `code`, and the
/// `authorization_code` redemption with the client secret and PKCE verifier.
pub struct PeerSignIn {
    browser: Browser,
    authorize: String,
    token: String,
    web: WebApp,
    /// The pages shown (200s) in the last sign-in.
    pub pages: u32,
    pub sigs: u32,
    /// The refresh token of the last sign-in.
    pub refresh_token: Option<String>,
}

impl PeerSignIn {
    pub fn new(conn: Conn, target: &Target) -> PeerSignIn {
        PeerSignIn {
            browser: Browser::new(conn),
            authorize: authorize_request(
                target,
                "openid offline_access api:read",
                &[("prompt", "consent")],
            ),
            token: target.token.clone(),
            web: target.web,
            pages: 0,
            sigs: 0,
            refresh_token: None,
        }
    }
}

impl Worker for PeerSignIn {
    async fn op(&mut self) {
        let Self {
            browser,
            authorize,
            token,
            web,
            pages,
            ..
        } = self;
        browser.jar.clear();
        *pages = 0;
        let mut res = browser.send(authorize, None).await;
        let mut code = None;
        for _ in 0..12 {
            match res.status {
                302 | 303 => {
                    let location = res.header("location").unwrap_or("");
                    if location.starts_with(web.redirect_uri) {
                        code = code_in(location);
                        break;
                    }
                    let next = path_of(location);
                    res = browser.send(&next, None).await;
                }
                200 => {
                    *pages += 1;
                    let typed: &[(&str, &str)] = if res.text().contains("name=\"login\"") {
                        &[("login", "alice"), ("password", PASSWORD)]
                    } else {
                        &[]
                    };
                    res = browser.submit(&res, typed).await;
                }
                _ => fail("a peer's sign-in step", &res),
            }
        }
        let Some(code) = code else {
            fail("a peer's sign-in (no redirect with a code)", &res)
        };
        let r = browser
            .redeem(token, web, &code, "a peer's authorization_code redemption")
            .await;
        self.sigs = jwt_count(r.text());
        self.refresh_token = json_str(r.text(), "refresh_token").map(str::to_string);
    }
}

/// The path and query of a request to `target`'s authorization endpoint: its web app asks for a
/// code for `scope`, with state, nonce and PKCE (S256 of [`VERIFIER`]), and `extra`.
fn authorize_request(target: &Target, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut url =
        url::Url::parse(&format!("http://{}{}", target.host, target.authorize)).expect("url");
    url.query_pairs_mut()
        .extend_pairs([
            ("client_id", target.web.client_id),
            ("response_type", "code"),
            ("redirect_uri", target.web.redirect_uri),
            ("scope", scope),
            ("state", "bench-state"),
            ("nonce", "bench-nonce"),
            ("code_challenge", &entra_mock::crypto::s256(VERIFIER)),
            ("code_challenge_method", "S256"),
        ])
        .extend_pairs(extra);
    path_of(url.as_str())
}

/// The `code` parameter of a redirect back to the app.
fn code_in(location: &str) -> Option<String> {
    let url = url::Url::parse(location).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}

/// The path and query of a URL a server sent (absolute or not).
fn path_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => url.to_string(),
    }
}

/// The first form of a page: its action and hidden fields (values unescaped).
fn parse_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = html.find("<form")?;
    let end = start + html[start..].find("</form>")?;
    let form = &html[start..end];
    let tag_end = form.find('>')?;
    let action = tag_attr(&form[..tag_end], "action")?;
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        let len = rest[i..].find('>')?;
        let tag = &rest[i..i + len];
        if tag_attr(tag, "type").as_deref() == Some("hidden") {
            if let Some(name) = tag_attr(tag, "name") {
                fields.push((name, tag_attr(tag, "value").unwrap_or_default()));
            }
        }
        rest = &rest[i + len..];
    }
    Some((action, fields))
}

fn tag_attr(tag: &str, attr: &str) -> Option<String> {
    let key = format!(" {attr}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(unescape(&tag[from..from + len]))
}

/// Undoes askama's HTML escaping.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#43;", "+")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}
