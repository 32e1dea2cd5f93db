//! The hostile-input battery (issue 12, bad input): thousands of malformed, oversized and hostile
//! requests to every endpoint of the release binary, run as a process of its own so that its
//! memory can be read. Every answer must keep the properties of `entra_mock::fuzzing::check_answer`
//! (no 5xx, Entra's error shape, no Location off the registered URIs), carry no markup or header
//! the request injected, and a refused request (4xx) must not add a row to any table. At the end
//! the server still answers and its memory is back near where it was idle.

use entra_mock::fuzzing::{check_answer, raw_request, Answer};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::SqlitePool;

use crate::helpers::*;

mod cases;
use cases::{cases, control_cases, encode, hostile_values, query, ATTR, CRLF, SCRIPT};

struct Battery {
    base: String,
    pool: SqlitePool,
    sent: usize,
    failures: Vec<String>,
}

impl Battery {
    async fn rows(&self) -> i64 {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'
               AND name NOT LIKE 'sqlite%'",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let mut total = 0;
        for t in tables {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{t}\""))
                .fetch_one(&self.pool)
                .await
                .unwrap();
            total += n;
        }
        total
    }

    async fn send(
        &mut self,
        what: &str,
        method: &str,
        target: &[u8],
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) {
        let before = self.rows().await;
        self.sent += 1;
        let answer = match raw_request(&self.base, method, target, headers, body).await {
            Ok(a) => a,
            Err(e) => {
                self.failures.push(format!("{what}: {e}"));
                return;
            }
        };
        if let Err(e) = self.check(&answer) {
            self.failures.push(format!("{what}: {e}"));
        }
        if answer.status >= 400 && self.rows().await != before {
            self.failures.push(format!(
                "{what}: refused with {} but wrote a row",
                answer.status
            ));
        }
    }

    fn check(&self, a: &Answer) -> Result<(), String> {
        let registered = [
            BFF_REDIRECT.to_string(),
            SPA_REDIRECT.to_string(),
            "http://localhost:5001/".to_string(),
            "http://localhost:5002/".to_string(),
            "http://localhost:5001/signed-out".to_string(),
        ];
        check_answer(a, &self.base, &registered)?;
        // A header line of its own, not the text inside another header (a Location carries the
        // request's values percent-encoded).
        if a.head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("x-injected"))
        {
            return Err(format!("an injected header: {}", a.head));
        }
        if a.content_type.starts_with("text/html")
            && (a.body.contains("alert(1337)</script>")
                || a.body.contains("<svg onload")
                || a.body.contains("<h1>injected"))
        {
            return Err("markup reflected into a page".into());
        }
        Ok(())
    }
}

/// The test-control API under the same rules: each field of each JSON endpoint's valid body
/// replaced by hostile JSON (markup and CRLF strings, numbers at and past the edges, every other
/// JSON type, 20 KB strings), malformed and oversized bodies, wrong content types, and hostile
/// keys in the paths. Accepted changes stand while the battery goes on (what it accepted must
/// not break a later answer either); `POST /_mock/reset` then brings the fixtures back.
async fn control_api(b: &mut Battery) {
    use serde_json::{json, Value};
    const JSON: (&str, &[u8]) = ("Content-Type", b"application/json");
    let hostile = [
        json!(SCRIPT),
        json!(ATTR),
        json!(CRLF),
        json!(""),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(-1),
        json!(0.5),
        Value::Null,
        json!([]),
        json!({}),
        json!(true),
        json!([SCRIPT, null, {}]),
        json!({"a": {"b": [SCRIPT]}}),
        json!("a".repeat(20_000)),
    ];
    for (method, path, valid) in control_cases() {
        let target = format!("/_mock/{path}");
        let Value::Object(fields) = &valid else {
            unreachable!("the valid bodies are objects")
        };
        for field in fields.keys() {
            for value in &hostile {
                let mut body = valid.clone();
                body[field] = value.clone();
                let text = body.to_string();
                let what = format!(
                    "{method} {target} {field}={}",
                    &value.to_string()[..value.to_string().len().min(40)]
                );
                b.send(&what, method, target.as_bytes(), &[JSON], text.as_bytes())
                    .await;
            }
            // A number past what JSON parsers hold, written as text.
            let text = valid.to_string().replacen(
                &format!("\"{field}\":"),
                &format!("\"{field}\":1e400,\"_\":"),
                1,
            );
            b.send(
                &format!("{target} {field}=1e400"),
                method,
                target.as_bytes(),
                &[JSON],
                text.as_bytes(),
            )
            .await;
        }
        let valid = valid.to_string();
        for body in [
            "",
            "{",
            "{\"a\":",
            "[]",
            "null",
            "\"x\"",
            "{\"unknown\": 1}",
            &valid[..valid.len() / 2],
            "\u{0}\u{ff}",
        ] {
            b.send(
                &format!("{target} body {body:.20}"),
                method,
                target.as_bytes(),
                &[JSON],
                body.as_bytes(),
            )
            .await;
        }
        b.send(
            &format!("{target} invalid UTF-8"),
            method,
            target.as_bytes(),
            &[JSON],
            b"{\"a\": \"\xff\xfe\"}",
        )
        .await;
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=utf-16",
            "\u{7f}",
        ] {
            b.send(
                &format!("{target} content-type {ct}"),
                method,
                target.as_bytes(),
                &[("Content-Type", ct.as_bytes())],
                valid.as_bytes(),
            )
            .await;
        }
        let mut huge = valid.clone().into_bytes();
        huge.extend(std::iter::repeat_n(b' ', 300 * 1024));
        b.send(
            &format!("{target} huge body"),
            method,
            target.as_bytes(),
            &[JSON],
            &huge,
        )
        .await;
    }
    // Hostile keys where the paths take one.
    for key in [
        "%3Cscript%3E",
        "%00",
        "..%2F..%2Fetc",
        "%ZZ",
        "%FF%FE",
        &"k".repeat(5_000),
        "a%0d%0aX-Injected:%201",
    ] {
        for (method, path) in [
            ("GET", format!("users/{key}/totp")),
            ("POST", format!("users/{key}/revokeSignInSessions")),
            ("PATCH", format!("users/{key}")),
            ("DELETE", format!("applications/{key}")),
            ("DELETE", format!("groups/{key}")),
            ("DELETE", format!("assignments/{key}")),
            ("DELETE", format!("faults/{key}")),
            ("DELETE", format!("sessions/{key}")),
            ("DELETE", format!("refresh-tokens/{key}")),
            ("GET", key.to_string()),
        ] {
            let target = format!("/_mock/{path}");
            b.send(
                &format!("{method} {target:.60}"),
                method,
                target.as_bytes(),
                &[JSON],
                b"{}",
            )
            .await;
        }
    }
    for query in [
        "endpoint=%3Cscript%3E",
        "limit=-1",
        "limit=99999999999999999999",
        "after=x",
        "a=%ZZ",
    ] {
        let target = format!("/_mock/requests?{query}");
        b.send(&target, "GET", target.as_bytes(), &[], &[]).await;
    }
    let reset = raw_request(&b.base, "POST", b"/_mock/reset", &[], &[]).await;
    assert_eq!(
        reset.map(|a| a.status),
        Ok(204),
        "POST /_mock/reset after the battery"
    );
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn hostile_requests_to_every_endpoint_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_process(dir.path());
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(dir.path().join("entra-mock.sqlite"))
            .read_only(true),
    )
    .await
    .unwrap();
    let mut b = Battery {
        base: server.base.clone(),
        pool,
        sent: 0,
        failures: Vec::new(),
    };
    // Warm up, then take the idle figure.
    for _ in 0..50 {
        b.send(
            "warm-up",
            "GET",
            format!("/{TENANT}/v2.0/.well-known/openid-configuration").as_bytes(),
            &[],
            &[],
        )
        .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let idle = rss_kib(server.child.id());

    const FORM: (&str, &[u8]) = ("Content-Type", b"application/x-www-form-urlencoded");
    let values = hostile_values();
    for case in cases() {
        // One parameter at a time replaced by each hostile value, the rest valid.
        for &param in case.params {
            for value in &values {
                let mut params: Vec<(&str, Vec<u8>)> = case
                    .base_params
                    .iter()
                    .filter(|(k, _)| *k != param)
                    .map(|(k, v)| (*k, encode(v.as_bytes()).into_bytes()))
                    .collect();
                params.push((param, value.clone()));
                let what = format!(
                    "{} {} {param}={}",
                    case.method,
                    case.path,
                    String::from_utf8_lossy(&value[..value.len().min(40)])
                );
                let q = query(&params);
                if case.method == "GET" {
                    let mut target = case.path.clone().into_bytes();
                    target.push(b'?');
                    target.extend_from_slice(&q);
                    b.send(&what, "GET", &target, &[], &[]).await;
                } else {
                    b.send(&what, "POST", case.path.as_bytes(), &[FORM], &q)
                        .await;
                }
            }
        }
        let valid: Vec<(&str, Vec<u8>)> = case
            .base_params
            .iter()
            .map(|(k, v)| (*k, encode(v.as_bytes()).into_bytes()))
            .collect();
        let body = query(&valid);
        let path = case.path.as_bytes();
        // A parameter repeated a thousand times.
        let mut repeated = valid.clone();
        for _ in 0..1000 {
            repeated.push(("scope", b"openid".to_vec()));
        }
        b.send(
            &format!("{} repeated", case.path),
            "POST",
            path,
            &[FORM],
            &query(&repeated),
        )
        .await;
        // Wrong content types, a body over the limit, a declared length larger than sent (the
        // connection closes: a truncated body).
        for ct in [
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded; charset=utf-16",
            "\u{7f}",
        ] {
            b.send(
                &format!("{} content-type {ct}", case.path),
                "POST",
                path,
                &[("Content-Type", ct.as_bytes())],
                &body,
            )
            .await;
        }
        b.send(
            &format!("{} huge body", case.path),
            "POST",
            path,
            &[FORM],
            &vec![b'a'; 300 * 1024],
        )
        .await;
        b.send(
            &format!("{} json body", case.path),
            "POST",
            path,
            &[("Content-Type", b"application/json")],
            b"{\"grant_type\":[1,2,{}]}",
        )
        .await;
        // Methods the endpoint does not take.
        for method in ["PUT", "DELETE", "PATCH", "TRACE"] {
            b.send(&format!("{method} {}", case.path), method, path, &[], &[])
                .await;
        }
        // Long and hostile Host headers.
        for host in [
            "a".repeat(300),
            "evil.example".into(),
            format!("localhost{SCRIPT}"),
            "localhost:99999".into(),
        ] {
            b.send(
                &format!("{} host {}", case.path, &host[..host.len().min(30)]),
                "GET",
                path,
                &[("Host", host.as_bytes())],
                &[],
            )
            .await;
        }
        // An Authorization header with hostile contents.
        for auth in [
            format!("Bearer {SCRIPT}"),
            "Bearer a.b.c".into(),
            "Basic %%%".into(),
            format!("Bearer {}", "a".repeat(20_000)),
        ] {
            b.send(
                &format!("{} authorization", case.path),
                case.method,
                path,
                &[("Authorization", auth.as_bytes()), FORM],
                &body,
            )
            .await;
        }
    }
    // Path tricks in the tenant segment, on every endpoint path.
    for tenant in [
        "..",
        "%2e%2e",
        "%2F%2F",
        "%00",
        "%3Cscript%3E",
        "<script>",
        "a%ZZ",
        "%FF",
        &"t".repeat(5_000),
        "common/../organizations",
        "contoso.onmicrosoft.com%0d%0aX-Injected:%201",
    ] {
        for rest in [
            "oauth2/v2.0/authorize?client_id=x",
            "oauth2/v2.0/token",
            "v2.0/.well-known/openid-configuration",
            "discovery/v2.0/keys",
            "oauth2/v2.0/logout",
            "login",
        ] {
            let target = format!("/{tenant}/{rest}");
            let method = if rest == "oauth2/v2.0/token" || rest == "login" {
                "POST"
            } else {
                "GET"
            };
            b.send(
                &format!("tenant {tenant} {rest}"),
                method,
                target.as_bytes(),
                &[FORM],
                b"a=b",
            )
            .await;
        }
    }
    for path in [
        "/_signin/..%2F..%2FCargo.toml",
        "/_signin/%2e%2e/Cargo.toml",
        "/_mock/ca.pem/../../etc/passwd",
        "//evil.example/",
        "/%ZZ",
        "/_mock/users/%3Cscript%3E/totp",
    ] {
        b.send(&format!("path {path}"), "GET", path.as_bytes(), &[], &[])
            .await;
    }
    control_api(&mut b).await;
    // Bodies cut short: a declared length larger than what is sent, then the client closes.
    for _ in 0..20 {
        use tokio::io::AsyncWriteExt;
        let addr = b
            .base
            .trim_start_matches("http://")
            .replace("localhost", "127.0.0.1");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("POST /{TENANT}/oauth2/v2.0/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\ngrant_type=client_cre").as_bytes()).await.unwrap();
        s.shutdown().await.unwrap();
        drop(s);
        b.sent += 1;
    }

    assert!(
        b.failures.is_empty(),
        "{} of {} hostile requests broke a rule:\n{}",
        b.failures.len(),
        b.sent,
        b.failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(b.sent >= 2_500, "only {} requests", b.sent);
    // Still serving, with a valid token request.
    let ok = reqwest::Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", server.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("api://{API}/.default")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Memory back near idle: buffers of refused requests are released.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = rss_kib(server.child.id());
    assert!(
        after <= idle + 16 * 1024,
        "RSS {} KiB after the battery, {} KiB idle before",
        after,
        idle
    );
}
