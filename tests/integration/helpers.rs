//! TestApp: a real server per test, on the library's own `entra_mock::TestServer` (with a data
//! dir the test can inspect and restart on), plus the well-known tenant's values.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use entra_mock::config::{FixtureSource, Settings};
use entra_mock::state::AppState;
use entra_mock::TestServer;

pub const TENANT: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const BFF: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
pub const BFF_SECRET: &str = "bff-secret-local-dev-only";
pub const BFF_REDIRECT: &str = "http://localhost:5001/auth/callback";
pub const SPA: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
pub const SPA_REDIRECT: &str = "http://localhost:5002/";
pub const API: &str = "22223333-cccc-4444-dddd-5555eeee6666";
pub const API_SCOPE: &str = "api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user";
pub const DAEMON: &str = "33334444-dddd-5555-eeee-6666ffff7777";
pub const DAEMON_SECRET: &str = "daemon-secret-local-dev-only";
pub const PASSWORD: &str = "Passw0rd!";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const ALICE_OID: &str = "a11ce000-0000-4000-8000-000000000001";
pub const BOB: &str = "bob@contoso.onmicrosoft.com";
pub const BOB_OID: &str = "b0b00000-0000-4000-8000-000000000002";
pub const BOB_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub const CAROL: &str = "carol@contoso.onmicrosoft.com";
pub const DAVE: &str = "dave@contoso.onmicrosoft.com";

pub struct TestApp {
    /// `http://localhost:PORT`
    pub http: String,
    /// `https://localhost:PORT`
    pub https: String,
    pub data_dir: PathBuf,
    pub ca_pem: String,
    pub state: AppState,
    /// The library's in-process test server, which the tests run on.
    pub server: TestServer,
    _temp: Option<tempfile::TempDir>,
}

impl TestApp {
    /// A server with the built-in fixtures and a fresh data dir.
    pub async fn spawn() -> TestApp {
        let temp = tempfile::tempdir().unwrap();
        let mut app = Self::spawn_with(Settings::for_tests(temp.path().to_path_buf())).await;
        app._temp = Some(temp);
        app
    }

    /// [`TestApp::spawn`] with `workers` actix workers (one: writes on the request's task; more:
    /// the hot writes on the store writer's thread).
    pub async fn spawn_with_workers(workers: usize) -> TestApp {
        let temp = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_tests(temp.path().to_path_buf());
        settings.workers = workers;
        let mut app = Self::spawn_with(settings).await;
        app._temp = Some(temp);
        app
    }

    /// A server on an existing data dir (for restart tests).
    pub async fn spawn_in(dir: &Path) -> TestApp {
        Self::spawn_with(Settings::for_tests(dir.to_path_buf())).await
    }

    /// A server with a fixture file of its own.
    pub async fn spawn_with_fixtures(dir: &Path, fixtures: PathBuf) -> anyhow::Result<TestApp> {
        let mut s = Settings::for_tests(dir.to_path_buf());
        s.fixtures = FixtureSource::File(fixtures);
        Self::try_spawn(s).await
    }

    pub async fn spawn_with(settings: Settings) -> TestApp {
        Self::try_spawn(settings).await.unwrap()
    }

    pub async fn try_spawn(settings: Settings) -> anyhow::Result<TestApp> {
        let data_dir = match &settings.data_dir {
            entra_mock::config::DataDir::Persistent(p) => p.clone(),
            entra_mock::config::DataDir::Ephemeral => PathBuf::new(),
        };
        let server = TestServer::start_with_settings(settings).await?;
        Ok(TestApp {
            http: server.http_url().to_string(),
            https: server.https_url().to_string(),
            data_dir,
            ca_pem: server.ca_pem().to_string(),
            state: server.state().clone(),
            server,
            _temp: None,
        })
    }

    /// A client that keeps cookies, does not follow redirects and trusts only our CA.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Calls the test-control API: `method /_mock/{path}` with an optional JSON body; the status
    /// and the JSON answer (`null` when the body is empty).
    pub async fn mock(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .client()
            .request(method, format!("{}/_mock/{path}", self.https));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        (status, json)
    }

    pub fn authority(&self) -> String {
        format!("{}/{TENANT}", self.https)
    }

    pub async fn stop(&self) {
        self.server.stop().await;
    }

    /// Whether the SSO session `id` is stored and has not ended.
    pub async fn session_active(&self, id: &str) -> bool {
        self.state
            .store
            .active_session(id, self.state.clock.unix())
            .await
            .unwrap()
            .is_some()
    }
}

/// `GET url`, its JSON body.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// The release binary, started as a process of its own on a data dir (plain HTTP, port 0).
pub struct Process {
    pub child: Child,
    pub base: String,
    /// What it printed before its banner (warnings at start).
    pub before_banner: Vec<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_process(dir: &std::path::Path) -> Process {
    start_command(process_command(dir))
}

/// The command `start_process` runs, to be changed before `start_command`.
pub fn process_command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra-mock"));
    command
        .args([
            "--http-addr",
            "127.0.0.1:0",
            "--https-addr",
            "off",
            "--data-dir",
        ])
        .arg(dir)
        .env("ENTRA_MOCK_LOG", "error");
    command
}

pub fn start_command(mut command: Command) -> Process {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut base = None;
    let mut before_banner = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) = line.trim().strip_prefix("http:") {
            base = Some(url.trim().to_string());
            break;
        }
        before_banner.push(line);
    }
    // The rest of its output (errors only: ENTRA_MOCK_LOG=error) goes to the test's output.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            eprintln!("entra-mock: {line}");
        }
    });
    Process {
        child,
        base: base
            .unwrap_or_else(|| panic!("no banner naming the HTTP listener: {before_banner:?}")),
        before_banner,
    }
}

/// `s` percent-encoded for a query string or form value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
