//! What one connection does in each load phase. Every answer is checked (status, and that the
//! body is what the endpoint answers); a wrong one panics.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, RwLock};

use crate::http::{form, json_str, jwt_count, Conn, Response};
use crate::load::Worker;
use crate::servers::Target;
use crate::{ALICE, BFF, BFF_REDIRECT, BFF_SECRET, PASSWORD, TENANT};

/// The PKCE verifier of every sign-in (a constant, as the integration tests use).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-entra-mock-bench";
/// The TOTP secret of the bench users (bob's fixture secret).
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const STEP_SECS: i64 = 30;

fn fail(what: &str, res: &Response) -> ! {
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
pub async fn mint_refresh_token(target: &Target) -> String {
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

/// Redeems its own latest refresh token (they rotate): 200 with tokens and a new refresh token.
pub struct Refresh {
    pub conn: Conn,
    path: String,
    token: String,
    pub sigs: u32,
}

impl Refresh {
    pub fn new(conn: Conn, target: &Target, token: String) -> Refresh {
        Refresh {
            conn,
            path: target.token.clone(),
            token,
            sigs: 0,
        }
    }
}

impl Worker for Refresh {
    async fn op(&mut self) {
        let body = form([
            ("grant_type", "refresh_token"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
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
        let mut authorize = url::Url::parse(&format!(
            "http://{}/{TENANT}/oauth2/v2.0/authorize",
            target.host
        ))
        .expect("url");
        authorize.query_pairs_mut().extend_pairs([
            ("client_id", BFF),
            ("response_type", "code"),
            ("redirect_uri", BFF_REDIRECT),
            ("scope", "openid profile offline_access"),
            ("state", "bench-state"),
            ("nonce", "bench-nonce"),
            ("code_challenge", &entra_mock::crypto::s256(VERIFIER)),
            ("code_challenge_method", "S256"),
        ]);
        SignInSetup {
            authorize: format!("{}?{}", authorize.path(), authorize.query().unwrap_or("")),
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
    pub conn: Conn,
    setup: Arc<SignInSetup>,
    /// Indexes into `setup.upns` this connection signs in (its own, when TOTP).
    users: Vec<usize>,
    next: usize,
    clock: Option<TotpClock>,
    jar: Vec<(String, String)>,
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
            conn,
            setup,
            users,
            next: 0,
            clock,
            jar: Vec::new(),
            sigs: 0,
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

    /// Posts the page's form: its hidden fields plus `typed`.
    async fn submit(&mut self, page: &Response, typed: &[(&str, &str)]) -> Response {
        let (action, mut fields) =
            parse_form(page.text()).unwrap_or_else(|| fail("a sign-in page without a form", page));
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
        self.jar.clear();

        let page = self.send(&setup.authorize, None).await;
        expect_page(&page, "name=\"loginfmt\"", "GET /authorize (username page)");
        let page = self.submit(&page, &[("loginfmt", upn)]).await;
        expect_page(&page, "name=\"passwd\"", "username (password page)");
        let mut res = self.submit(&page, &[("passwd", PASSWORD)]).await;
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
            res = self.submit(&res, &[("otc", &code)]).await;
            drop(gate);
            setup.last_step[u].store(step, Ordering::Relaxed);
            self.clock = Some(clock);
        }
        let location = match res.header("location") {
            Some(l) if res.status == 302 && l.starts_with(BFF_REDIRECT) => l.to_string(),
            _ => fail("the last sign-in step (a redirect with a code)", &res),
        };
        let code = url::Url::parse(&location)
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_else(|| panic!("no code in {location}"));
        let body = form([
            ("grant_type", "authorization_code"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("code", &code),
            ("redirect_uri", BFF_REDIRECT),
            ("code_verifier", VERIFIER),
        ]);
        let r = self.send(&setup.token, Some(&body)).await;
        if r.status != 200 || json_str(r.text(), "id_token").is_none() {
            fail("authorization_code redemption", &r);
        }
        self.sigs = jwt_count(r.text());
    }
}

/// The TOTP step of entra-mock's virtual clock as the ticker last set it, and the gate that
/// keeps it still while one-time codes are on their way (held shared by each code submission,
/// exclusively by the ticker while it moves the clock).
#[derive(Clone)]
pub struct TotpClock {
    rx: watch::Receiver<i64>,
    gate: Arc<RwLock<()>>,
}

/// Moves entra-mock's virtual clock one TOTP step (30 s) every `every`, so each bench user can
/// use a new step over and over: a code is accepted once per step, and only within one step of
/// the clock. The only writer of the clock while it runs.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<u64>,
    clock: TotpClock,
}

impl Ticker {
    pub async fn start(target: &Target, every: Duration) -> Ticker {
        let mut conn = target.conn();
        let r = conn
            .get("/_mock/clock", &[])
            .await
            .expect("GET /_mock/clock");
        let (tx, rx) = watch::channel(clock_now(&r).div_euclid(STEP_SECS));
        let gate = Arc::new(RwLock::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, exclusive) = (stop.clone(), gate.clone());
        let handle = tokio::spawn(async move {
            let mut ticks = 0;
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(every).await;
                let _still = exclusive.write().await;
                let r = conn
                    .post_json("/_mock/clock", r#"{"advance": 30}"#)
                    .await
                    .expect("POST /_mock/clock");
                tx.send_replace(clock_now(&r).div_euclid(STEP_SECS));
                ticks += 1;
            }
            ticks
        });
        Ticker {
            stop,
            handle,
            clock: TotpClock { rx, gate },
        }
    }

    pub fn clock(&self) -> TotpClock {
        self.clock.clone()
    }

    /// Stops it; answers how many steps it moved.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.expect("the clock ticker")
    }
}

fn clock_now(r: &Response) -> i64 {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    match v["now"].as_i64() {
        Some(now) if r.status == 200 => now,
        _ => fail("/_mock/clock", r),
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
