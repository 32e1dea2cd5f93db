//! The HTTP layer's limits (issue 12, limits and growth): foreign Host headers, oversized
//! headers and bodies, bodies that never finish, and a connection cap, each answered in Entra's
//! shape (or as Entra's error page on the sign-in pages) while the server keeps serving.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::token_helpers::*;

fn addr(app: &TestApp) -> String {
    socket_addr(&app.http)
}

/// The `host:port` to connect to for a base URL of the server.
fn socket_addr(base: &str) -> String {
    base.trim_start_matches("http://")
        .trim_start_matches("https://")
        .replace("localhost", "127.0.0.1")
}

/// Sends `head` (and optional body bytes) on a raw connection and reads the whole answer.
async fn raw(app: &TestApp, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr(app)).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn discovery_with_host(app: &TestApp, host: &str) -> Answer {
    answer(
        app.client()
            .get(format!(
                "{}/{TENANT}/v2.0/.well-known/openid-configuration",
                app.http
            ))
            .header("Host", host)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_foreign_host_is_refused_and_never_written_into_metadata() {
    let app = TestApp::spawn().await;
    let refused = discovery_with_host(&app, "evil.example:8443").await;
    refused.assert_error(400, "invalid_request", 90023);
    assert!(
        !refused.body.to_string().contains("evil"),
        "{}",
        refused.body
    );

    // Loopback names and IP literals are served, and written as sent.
    let port = app.http.rsplit(':').next().unwrap().to_string();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let ok = discovery_with_host(&app, &host).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(
            ok.str("issuer"),
            format!("http://{host}/{TENANT}/v2.0"),
            "{}",
            ok.body
        );
    }

    // On the pages a browser shows the refusal is Entra's error page, not JSON.
    for path in [
        format!("/{TENANT}/oauth2/v2.0/authorize"),
        format!("/{TENANT}/v2.0/adminconsent"),
        "/devicelogin".to_string(),
    ] {
        let res = app
            .client()
            .get(format!("{}{path}", app.http))
            .header("Host", "evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let page = res.text().await.unwrap();
        assert!(
            page.contains("AADSTS90023") && !page.contains("evil"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn names_given_by_tls_san_are_served() {
    let temp = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(temp.path().to_path_buf());
    settings.tls_san = vec!["entra-mock".into()];
    let app = TestApp::spawn_with(settings).await;
    let ok = discovery_with_host(&app, "entra-mock:8080").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.str("issuer").starts_with("http://entra-mock:8080/"));
    discovery_with_host(&app, "other-name:8080")
        .await
        .assert_error(400, "invalid_request", 90023);
}

#[tokio::test]
async fn oversized_headers_get_431_in_entra_shape() {
    let app = TestApp::spawn().await;
    let res = app
        .client()
        .get(format!("{}/{TENANT}/discovery/v2.0/keys", app.http))
        .header("x-padding", "a".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    answer(res)
        .await
        .assert_error(431, "invalid_request", 90023);
    let ok = app
        .client()
        .get(format!("{}/healthz", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_read() {
    let app = TestApp::spawn().await;
    // Declares 10 MB and sends nothing: answered at once, not after a timeout.
    let started = Instant::now();
    let answer = raw(
        &app,
        format!(
            "POST /{TENANT}/oauth2/v2.0/token HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("AADSTS90023"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_body_that_never_finishes_is_dropped_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    // 200 connections each declaring 1,000 body bytes and sending 2 (slowloris).
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        s.write_all(
            format!(
                "POST /{TENANT}/oauth2/v2.0/token HTTP/1.1\r\nHost: localhost\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nab"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        held.push(s);
    }
    // Meanwhile others are served.
    let ok = app.daemon_token().await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Each held request is answered 408 in Entra's shape once its body time is up, and closed.
    let mut first = held.remove(0);
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), first.read_to_end(&mut out))
        .await
        .expect("the held connection is closed by the server")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("AADSTS90023"), "{text}");
    for mut s in held {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
            .await
            .expect("every held connection is closed")
            .unwrap();
    }
}

#[tokio::test]
async fn a_head_that_never_finishes_is_dropped() {
    let app = TestApp::spawn().await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut out))
        .await
        .expect("the server closes a connection whose head never ends")
        .unwrap();
}

#[tokio::test]
async fn tls_handshakes_that_never_finish_are_dropped_and_https_keeps_serving() {
    let app = TestApp::spawn().await;
    let https = socket_addr(&app.https);
    // 100 connections that send nothing, 100 that send the first bytes of a ClientHello (a TLS
    // record header announcing 512 bytes) and stop.
    let mut held = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(&https).await.unwrap();
        if i % 2 == 1 {
            s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .await
                .unwrap();
        }
        held.push(s);
    }
    // Meanwhile a client gets its answer over TLS.
    let ok = app.daemon_token().await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Each held connection is closed by the server once its handshake time is up.
    for mut s in held {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut rest))
            .await
            .expect("the server closes a connection whose TLS handshake never ends")
            .ok();
    }
    let again = app.daemon_token().await;
    assert_eq!(again.status, 200, "{}", again.body);
}

#[tokio::test]
async fn connections_over_the_cap_wait_and_are_served_when_one_frees() {
    let temp = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(temp.path().to_path_buf());
    settings.max_connections = 4;
    let app = TestApp::spawn_with(settings).await;
    // Fill the cap with idle keep-alive connections.
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        idle.push(s);
    }
    // A fifth connection is served after the idle ones are closed by the server (keep-alive
    // timeout) or by their clients.
    let fifth = tokio::spawn({
        let a = addr(&app);
        async move {
            let mut s = TcpStream::connect(a).await.unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.unwrap();
            String::from_utf8_lossy(&out).into_owned()
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!fifth.is_finished(), "the cap let a fifth connection in");
    drop(idle);
    let text = tokio::time::timeout(Duration::from_secs(10), fifth)
        .await
        .expect("served once a connection freed")
        .unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

/// The binary started with a soft limit of `soft` open files and a hard limit of `hard`, as a
/// shell with `ulimit -Sn` lowered would start it.
fn start_with_open_files_limit(dir: &std::path::Path, soft: u64, hard: u64) -> Process {
    use std::os::unix::process::CommandExt;
    let mut command = process_command(dir);
    command.env("ENTRA_MOCK_LOG", "warn");
    // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    start_command(command)
}

/// The soft and hard limits of open files `/proc` shows for a process.
fn open_files_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().unwrap().to_string(),
        fields.next().unwrap().to_string(),
    )
}

#[tokio::test]
async fn the_server_lifts_its_soft_open_files_limit_and_serves_more_connections_than_it_set() {
    // This test's own process holds the 300 client ends.
    entra_mock::open_files::raise();
    let hard = open_files_limits(std::process::id()).1;
    let hard: u64 = hard.parse().unwrap_or(u64::MAX).min(4096);
    assert!(hard >= 1024, "the hard limit of open files here is {hard}");
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_open_files_limit(dir.path(), 128, hard);
    assert_eq!(
        open_files_limits(server.child.id()),
        (hard.to_string(), hard.to_string())
    );
    // 300 keep-alive connections at once, each answered and kept open: at a soft limit of 128
    // the server could accept fewer than 100 of them.
    let target = socket_addr(&server.base);
    let mut open = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(&target).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("connection {i} was not served"))
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "connection {i}");
        open.push(s);
    }
    assert!(
        !server.before_banner.iter().any(|l| l.contains("WARN")),
        "{:?}",
        server.before_banner
    );
}

#[tokio::test]
async fn a_connection_cap_over_an_open_files_limit_that_cannot_be_lifted_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_open_files_limit(dir.path(), 128, 128);
    assert_eq!(
        open_files_limits(server.child.id()),
        ("128".to_string(), "128".to_string())
    );
    let warning = server.before_banner.join("\n");
    assert!(
        warning.contains("WARN")
            && warning.contains("--max-connections 1024")
            && warning.contains("open-files limit of 128")
            && warning.contains("--max-connections to 64"),
        "{warning}"
    );
    // It serves all the same.
    let healthz = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
}
