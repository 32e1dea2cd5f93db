//! Fuzz targets (issue 12, bad input), shared by the cargo-fuzz crate in `fuzz/` (libFuzzer,
//! coverage-guided) and by the stable test `tests/integration/fuzz_targets.rs`, which runs them
//! over the saved corpus in `fuzz/corpus/` and over random inputs. Each target turns arbitrary
//! bytes into one request to a real entra-mock (in-process, real HTTP and SQLite, started once per
//! process) and checks the answer ([`check_answer`]): never a 5xx, every JSON error in Entra's
//! shape, no `Location` outside the registered URIs and the server's own pages. The fixture
//! target feeds the loader directly, and writes what it accepts into a store of its own.
//!
//! To reach past the signature checks, the JWT targets sign what the fuzzer wrote with the keys
//! the server trusts: the well-known development signing key (tokens presented to userinfo,
//! logout and revocation) and `bff`'s well-known certificate key (client assertions).

// A harness that cannot start (no runtime, no server, no key) must stop the fuzz run at once.
#![allow(clippy::expect_used)]

use std::sync::OnceLock;

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::testing::{TestServer, TestServerOptions};

mod wire;
pub use wire::{check_answer, raw_request, Answer};

const TENANT: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
const BFF: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
const BFF_REDIRECT: &str = "http://localhost:5001/auth/callback";
const BFF_CERT_PEM: &str = include_str!("../../fixtures/certs/bff-dev-only.pem");
const BFF_CERT_KEY: &str = include_str!("../../fixtures/certs/bff-dev-only.key");
const DEV_SIGNING_KEY: &str = include_str!("../../fixtures/keys/dev-signing-1.key");

/// The fuzz targets, by the names of `fuzz/fuzz_targets/*.rs` and `fuzz/corpus/*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The query of `GET /{tenant}/oauth2/v2.0/authorize`; the first line is the tenant segment.
    AuthorizeQuery,
    /// The body of `POST /{tenant}/oauth2/v2.0/token`.
    TokenForm,
    /// A `client_assertion` for `bff` (raw, or the fuzzer's bytes as a signed payload).
    ClientAssertion,
    /// A JWT presented to userinfo, logout (`id_token_hint`) or revocation.
    BearerJwt,
    /// The body of a sign-in form POST, on a live flow.
    SigninForm,
    /// A fixture file.
    Fixture,
    /// Up to four requests to the test-control API (`/_mock/`), then `POST /_mock/reset`, which
    /// must bring back the state the server started with ([`control_api`]).
    ControlApi,
}

pub const TARGETS: [(&str, Target); 7] = [
    ("authorize_query", Target::AuthorizeQuery),
    ("token_form", Target::TokenForm),
    ("client_assertion", Target::ClientAssertion),
    ("bearer_jwt", Target::BearerJwt),
    ("signin_form", Target::SigninForm),
    ("fixture", Target::Fixture),
    ("control_api", Target::ControlApi),
];

struct Harness {
    rt: tokio::runtime::Runtime,
    server: TestServer,
    dev_key: EncodingKey,
    dev_kid: String,
    bff_key: EncodingKey,
    bff_x5t: String,
    /// Every redirect and post-logout URI the built-in apps register.
    registered: Vec<String>,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let (rt, server) = start_server("server");
        let dev_kid = rt
            .block_on(server.keys())
            .ok()
            .and_then(|list| list.keys.into_iter().find(|k| k.state == "active"))
            .map(|k| k.kid)
            .expect("an active key");
        let (_, pem) = x509_parser::pem::parse_x509_pem(BFF_CERT_PEM.as_bytes()).expect("pem");
        use sha1::Digest as _;
        Harness {
            dev_key: EncodingKey::from_rsa_pem(DEV_SIGNING_KEY.as_bytes()).expect("dev key"),
            dev_kid,
            bff_key: EncodingKey::from_rsa_pem(BFF_CERT_KEY.as_bytes()).expect("bff key"),
            bff_x5t: URL_SAFE.encode(sha1::Sha1::digest(&pem.contents)),
            registered: registered_uris(),
            rt,
            server,
        }
    })
}

/// A runtime of one worker and a server on a scratch data dir of its own (`name`) that it runs.
fn start_server(name: &str) -> (tokio::runtime::Runtime, TestServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt
        .block_on(TestServer::start_with(TestServerOptions {
            data_dir: Some(scratch_dir(name)),
            ..TestServerOptions::default()
        }))
        .expect("entra-mock starts");
    (rt, server)
}

/// Every redirect and post-logout URI the built-in apps register.
fn registered_uris() -> Vec<String> {
    crate::fixtures::Fixtures::built_in()
        .expect("built-in fixtures")
        .tenants()
        .iter()
        .flat_map(|t| &t.applications)
        .flat_map(|a| {
            a.web
                .redirect_uris
                .iter()
                .chain(&a.spa.redirect_uris)
                .chain(&a.public_client.redirect_uris)
                .chain(&a.post_logout_redirect_uris)
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A data dir for this process's `what` (a server, a store), which lives as long as the process:
/// the harness's servers and store live in statics, never dropped, and libFuzzer ends with
/// `exit`. So each goes under `<temp>/entra-mock-fuzz/` named with the process id, and the dirs
/// of processes that are gone are removed first (on Linux, where `/proc` tells): a run leaves at
/// most its own behind, about 5 MB a server (before, every run left its temporary dirs).
fn scratch_dir(what: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join("entra-mock-fuzz");
    let proc = std::path::Path::new("/proc");
    if proc.is_dir() {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let gone = name
                .rsplit_once('-')
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
                .is_some_and(|pid| {
                    pid != std::process::id() && !proc.join(pid.to_string()).exists()
                });
            if gone {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(format!("{what}-{}", std::process::id()));
    // A dir of an earlier process with this id would hold its state: start empty.
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A store of its own for the fixture target (a real SQLite file), which each accepted fixture
/// replaces the registrations of.
struct FixtureStore {
    rt: tokio::runtime::Runtime,
    store: crate::store::Store,
}

fn fixture_store() -> &'static FixtureStore {
    static S: OnceLock<FixtureStore> = OnceLock::new();
    S.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = scratch_dir("fixtures");
        std::fs::create_dir_all(&dir).expect("the fixture store's dir");
        let store = rt
            .block_on(crate::store::Store::open(&dir.join("fixtures.sqlite")))
            .expect("store");
        FixtureStore { rt, store }
    })
}

/// A server of its own for the control-API target: what its inputs change (the directory, the
/// clock, fault rules) would change the answers the other targets check, which share a process
/// with it in the stable tests.
struct Control {
    rt: tokio::runtime::Runtime,
    server: TestServer,
    registered: Vec<String>,
    /// What the listings of [`RESET_LISTINGS`] answered right after the start.
    start: Vec<String>,
}

/// The listings `POST /_mock/reset` must bring back as they were at the start: the directory as
/// the fixtures say, no fault rules, sessions or refresh tokens.
const RESET_LISTINGS: [&str; 7] = [
    "/_mock/users",
    "/_mock/applications",
    "/_mock/groups",
    "/_mock/assignments",
    "/_mock/faults",
    "/_mock/sessions",
    "/_mock/refresh-tokens",
];

fn control() -> &'static Control {
    static C: OnceLock<Control> = OnceLock::new();
    C.get_or_init(|| {
        let (rt, server) = start_server("control");
        let start = rt
            .block_on(listings(server.http_url()))
            .expect("the control API lists the start's state");
        Control {
            rt,
            server,
            registered: registered_uris(),
            start,
        }
    })
}

/// The bodies of [`RESET_LISTINGS`], each required to answer 200.
async fn listings(base: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for path in RESET_LISTINGS {
        let a = raw_request(base, "GET", path.as_bytes(), &[], &[]).await?;
        if a.status != 200 {
            return Err(format!("GET {path} answered {}: {}", a.status, a.body));
        }
        out.push(a.body);
    }
    Ok(out)
}

/// The control-API target. An input is up to four requests separated by lines `%%`, each a line
/// `METHOD path [content type]` (the path after `/_mock/`; JSON when no type is given) and the
/// body after it. Every answer keeps [`check_answer`]'s properties and a 2xx JSON answer parses;
/// then `POST /_mock/reset` must answer 204 and bring back the start's listings and clock,
/// whatever the requests did (a test suite resets between its tests and relies on it).
async fn control_api(c: &Control, data: &[u8]) -> Result<(), String> {
    let base = c.server.http_url();
    for part in split_parts(data).take(4) {
        let (line, body) = match part.iter().position(|&b| b == b'\n') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        let mut words = line.splitn(3, |&b| b == b' ');
        let method: String = words
            .next()
            .unwrap_or_default()
            .iter()
            .filter(|b| b.is_ascii_alphabetic())
            .take(16)
            .map(|&b| char::from(b))
            .collect();
        let method = if method.is_empty() {
            "GET".into()
        } else {
            method
        };
        let mut target = b"/_mock/".to_vec();
        target.extend_from_slice(words.next().unwrap_or_default());
        let content_type = words.next().unwrap_or(b"application/json");
        let answer = raw_request(
            base,
            &method,
            &target,
            &[("Content-Type", content_type)],
            body,
        )
        .await?;
        check_answer(&answer, base, &c.registered)?;
        if answer.status < 300 && answer.content_type.starts_with("application/json") {
            serde_json::from_str::<serde_json::Value>(&answer.body).map_err(|e| {
                format!(
                    "a {} answer that is not JSON ({e}): {}",
                    answer.status, answer.body
                )
            })?;
        }
    }
    let reset = raw_request(base, "POST", b"/_mock/reset", &[], &[]).await?;
    if reset.status != 204 {
        return Err(format!(
            "POST /_mock/reset answered {}: {}",
            reset.status, reset.body
        ));
    }
    for ((path, now), start) in RESET_LISTINGS
        .iter()
        .zip(listings(base).await?)
        .zip(&c.start)
    {
        if &now != start {
            return Err(format!(
                "after POST /_mock/reset, GET {path} answers {now}, not {start} as at the start"
            ));
        }
    }
    let clock = raw_request(base, "GET", b"/_mock/clock", &[], &[]).await?;
    let offset = serde_json::from_str::<serde_json::Value>(&clock.body)
        .ok()
        .and_then(|v| v["offset"].as_i64());
    if offset != Some(0) {
        return Err(format!(
            "after POST /_mock/reset, GET /_mock/clock answers {}",
            clock.body
        ));
    }
    Ok(())
}

/// The parts of `data` between lines `%%`.
fn split_parts(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(4).position(|w| w == b"\n%%\n") {
            Some(i) => {
                rest = Some(&r[i + 4..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Runs one input; `Err` names the property the answer broke.
pub fn run(target: Target, data: &[u8]) -> Result<(), String> {
    if target == Target::ControlApi {
        let c = control();
        return c.rt.block_on(control_api(c, data));
    }
    if target == Target::Fixture {
        // Refused is fine (the error names the file, entry and field); what the loader accepts
        // must then be written: a database error there would be a start-up that fails without
        // saying why, or a 500 from the control API, which checks entries the same way.
        let text = String::from_utf8_lossy(data);
        let Ok(fixtures) = crate::fixtures::Fixtures::parse(&text, "fuzz.toml", None) else {
            return Ok(());
        };
        let f = fixture_store();
        return f
            .rt
            .block_on(fixtures.apply(&f.store))
            .map_err(|e| format!("accepted by the loader, refused by the store: {e:#}"));
    }
    let h = harness();
    h.rt.block_on(async {
        let base = h.server.http_url().to_string();
        const FORM: (&str, &[u8]) = ("Content-Type", b"application/x-www-form-urlencoded");
        let token_path = format!("/{TENANT}/oauth2/v2.0/token");
        let answer = match target {
            Target::AuthorizeQuery => {
                let (tenant, query) = split_line(data);
                let mut target = format!("/{}/oauth2/v2.0/authorize?", encode_all(tenant)).into_bytes();
                target.extend_from_slice(query);
                raw_request(&base, "GET", &target, &[], &[]).await?
            }
            Target::TokenForm => raw_request(&base, "POST", token_path.as_bytes(), &[FORM], data).await?,
            Target::ClientAssertion => {
                let assertion = jwt(data, &h.bff_key, |header| {
                    header.insert("x5t".into(), h.bff_x5t.clone().into());
                });
                let body = format!(
                    "grant_type=client_credentials&client_id={BFF}\
                     &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
                     &scope=api%3A%2F%2F22223333-cccc-4444-dddd-5555eeee6666%2F.default\
                     &client_assertion={}",
                    encode_all(assertion.as_bytes())
                );
                raw_request(&base, "POST", token_path.as_bytes(), &[FORM], body.as_bytes()).await?
            }
            Target::BearerJwt => {
                let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
                let token = jwt(rest, &h.dev_key, |header| {
                    header.insert("kid".into(), h.dev_kid.clone().into());
                });
                match selector % 3 {
                    0 => {
                        let bearer = format!("Bearer {token}");
                        raw_request(&base, "GET", b"/oidc/userinfo", &[("Authorization", bearer.as_bytes())], &[])
                            .await?
                    }
                    1 => {
                        let target = format!(
                            "/{TENANT}/oauth2/v2.0/logout?id_token_hint={}",
                            encode_all(token.as_bytes())
                        );
                        raw_request(&base, "GET", target.as_bytes(), &[], &[]).await?
                    }
                    _ => {
                        let body = format!("client_id={BFF}&token={}", encode_all(token.as_bytes()));
                        let target = format!("/{TENANT}/oauth2/v2.0/revoke");
                        raw_request(&base, "POST", target.as_bytes(), &[FORM], body.as_bytes()).await?
                    }
                }
            }
            Target::SigninForm => {
                let (flow, csrf) = start_flow(&base).await?;
                let mut body =
                    format!("ctx={}&flowToken={}&", encode_all(flow.as_bytes()), encode_all(csrf.as_bytes()))
                        .into_bytes();
                body.extend_from_slice(data);
                let target = format!("/{TENANT}/login");
                raw_request(&base, "POST", target.as_bytes(), &[FORM], &body).await?
            }
            Target::Fixture | Target::ControlApi => unreachable!("handled above"),
        };
        check_answer(&answer, &base, &h.registered)
    })
}

/// A flow at the username step, as a browser gets it from `/authorize`.
async fn start_flow(base: &str) -> Result<(String, String), String> {
    let target = format!(
        "/{TENANT}/oauth2/v2.0/authorize?client_id={BFF}&response_type=code&scope=openid\
         &redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGKSx-9GHM\
         &code_challenge_method=S256",
        encode_all(BFF_REDIRECT.as_bytes())
    );
    let page = raw_request(base, "GET", target.as_bytes(), &[], &[])
        .await?
        .body;
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        page.split_once(&marker)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(v, _)| v.to_string())
            .ok_or_else(|| format!("no {name} on the sign-in page"))
    };
    Ok((field("ctx")?, field("flowToken")?))
}

/// `data` as a JWT: if it already has three dot-separated parts it is sent as it is; otherwise
/// it is the payload, signed with `key` under a header `edit` completes.
fn jwt(
    data: &[u8],
    key: &EncodingKey,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> String {
    let text = String::from_utf8_lossy(data);
    if text.split('.').count() == 3 {
        return text.into_owned();
    }
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), "RS256".into());
    header.insert("typ".into(), "JWT".into());
    edit(&mut header);
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(data)
    );
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, Algorithm::RS256)
        .unwrap_or_default();
    format!("{signing_input}.{signature}")
}

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (TENANT.as_bytes(), data),
    }
}

/// Percent-encodes every byte outside unreserved characters.
fn encode_all(bytes: &[u8]) -> String {
    url::form_urlencoded::byte_serialize(bytes).collect()
}
