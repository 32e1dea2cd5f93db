//! Command line and environment: one typed [`Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use url::Url;

use crate::secret::Secret;

#[derive(Debug, Parser)]
#[command(
    name = "entra-mock",
    version,
    about = "An offline stand-in for Microsoft Entra ID (Azure AD) for local development and CI",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(Box<ServeArgs>),
    /// Exit 0 when the server answers 200 on /healthz (for container health checks).
    Healthcheck {
        /// Plain-HTTP health URL.
        #[arg(
            long,
            env = "ENTRA_MOCK_HEALTH_URL",
            default_value = "http://127.0.0.1:8080/healthz"
        )]
        url: String,
    },
    /// The test-control API from the shell: `entra-mock ctl <noun> <verb> [args] [--json ...]`,
    /// e.g. `ctl clock advance 3600`, `ctl keys rotate roll-now`, `ctl faults add --json '{...}'`.
    Ctl(crate::ctl::CtlArgs),
    /// The reference resource API (`GET/POST /tasks`, `POST /tasks/admin` with MFA) on
    /// localhost:5003, validating the tokens of the authority it is given.
    Api(crate::clients::api::ApiArgs),
    /// The reference backend-for-frontend (cookie sessions, tokens kept server-side) on
    /// localhost:5001.
    Bff(crate::clients::bff::BffArgs),
    /// The reference single-page app (PKCE in the browser, tokens in memory) on localhost:5002.
    Spa(crate::clients::spa::SpaArgs),
    /// The server and the three reference clients in one process (BFF on localhost:5001, SPA on
    /// :5002, API on :5003), to click through both flows in a browser.
    Demo(Box<DemoArgs>),
}

/// `entra-mock demo`: the server's own flags, and the reference clients' ports.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// The BFF's port on localhost (0: any free port).
    #[arg(long, default_value_t = 5001)]
    pub bff_port: u16,
    /// The SPA's port on localhost (0: any free port).
    #[arg(long, default_value_t = 5002)]
    pub spa_port: u16,
    /// The resource API's port on localhost (0: any free port).
    #[arg(long, default_value_t = 5003)]
    pub api_port: u16,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Plain HTTP listener, or "off".
    #[arg(long, env = "ENTRA_MOCK_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: String,
    /// HTTPS listener (certificate from the local CA), or "off".
    #[arg(long, env = "ENTRA_MOCK_HTTPS_ADDR", default_value = "127.0.0.1:8443")]
    pub https_addr: String,
    /// Where the SQLite file, signing keys and TLS material live.
    #[arg(long, env = "ENTRA_MOCK_DATA_DIR", default_value = "./.entra-mock")]
    pub data_dir: PathBuf,
    /// Use a fresh temporary data dir, deleted at exit (for CI).
    #[arg(long, env = "ENTRA_MOCK_EPHEMERAL")]
    pub ephemeral: bool,
    /// Fixture file (TOML). Default: the built-in well-known development tenant.
    #[arg(long, env = "ENTRA_MOCK_FIXTURES")]
    pub fixtures: Option<PathBuf>,
    /// Scheme and host written into metadata and issuers, e.g. http://entra:8080 behind Docker.
    /// Default: taken from each request's scheme and Host header.
    #[arg(long, env = "ENTRA_MOCK_PUBLIC_BASE_URL")]
    pub public_base_url: Option<Url>,
    /// Extra DNS names or IP addresses for the HTTPS certificate (comma separated).
    #[arg(long = "tls-san", env = "ENTRA_MOCK_TLS_SAN", value_delimiter = ',')]
    pub tls_san: Vec<String>,
    /// List the RFC 7009 revocation endpoint (an entra-mock extension) in discovery as
    /// `revocation_endpoint`. Entra has none, so by default it is served but not advertised.
    #[arg(long, env = "ENTRA_MOCK_ADVERTISE_REVOCATION")]
    pub advertise_revocation: bool,
    /// Require `Authorization: Bearer <token>` on the test-control API under `/_mock/`.
    /// Without it, `/_mock/` answers anyone on every listener.
    #[arg(long, env = "ENTRA_MOCK_ADMIN_TOKEN")]
    pub admin_token: Option<Secret>,
    /// Start with the virtual clock this many seconds ahead of (or, negative, behind) real time.
    #[arg(
        long,
        env = "ENTRA_MOCK_CLOCK_OFFSET",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub clock_offset: i64,
    /// Roll the signing keys automatically every this many seconds of the virtual clock (the
    /// active key hands over to the published next key, the key before it is retired, a new next
    /// key is published). Default: keys change only through `/_mock/keys/rotate`.
    #[arg(long, env = "ENTRA_MOCK_KEY_ROTATION_INTERVAL", value_parser = clap::value_parser!(i64).range(1..))]
    pub key_rotation_interval: Option<i64>,
    /// Keep the request log of `/_mock/requests` and `/_mock/findings` ("on", the default, or
    /// "off").
    #[arg(long, env = "ENTRA_MOCK_REQUEST_LOG", default_value = "on", value_parser = ["on", "off"])]
    pub request_log: String,
    /// Make fresh signing keys for an empty data dir instead of starting with the well-known
    /// development keys (unique keys, at 100-300 ms of RSA key generation before the first
    /// answer).
    #[arg(long, env = "ENTRA_MOCK_FRESH_KEYS")]
    pub fresh_keys: bool,
    /// Hide the "Test accounts" hint that the sign-in page shows while the built-in tenant is in
    /// use (the well-known users, their password and MFA method, bob's current code).
    #[arg(long, env = "ENTRA_MOCK_NO_HINTS")]
    pub no_hints: bool,
    /// Open connections served at once, all listeners together; more wait for a free one.
    /// entra-mock lifts its soft limit of open files to the hard one at start, and warns when
    /// this cap does not fit under it (`ulimit -n`).
    #[arg(long, env = "ENTRA_MOCK_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

/// Whether discovery lists entra-mock's RFC 7009 revocation endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationDiscovery {
    /// As Entra: no `revocation_endpoint` (the endpoint is still served).
    Hidden,
    Advertised,
}

/// A listener address, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Off,
    On(SocketAddr),
}

impl Listen {
    pub fn parse(value: &str) -> anyhow::Result<Self> {
        match value.trim() {
            "off" | "" | "none" | "false" => Ok(Listen::Off),
            v => Ok(Listen::On(v.parse().map_err(|e| {
                anyhow::anyhow!("'{v}' is not a socket address (host:port): {e}")
            })?)),
        }
    }
}

#[derive(Debug, Clone)]
pub enum DataDir {
    Persistent(PathBuf),
    Ephemeral,
}

#[derive(Debug, Clone)]
pub enum FixtureSource {
    BuiltIn,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub http: Listen,
    pub https: Listen,
    pub data_dir: DataDir,
    pub fixtures: FixtureSource,
    /// Without a trailing slash.
    pub public_base_url: Option<String>,
    pub tls_san: Vec<String>,
    /// Worker threads per listener set (actix workers).
    pub workers: usize,
    pub revocation_discovery: RevocationDiscovery,
    /// The bearer token `/_mock/` requires, if any.
    pub admin_token: Option<Secret>,
    /// Seconds the virtual clock starts ahead of real time.
    pub clock_offset: i64,
    /// Automatic key rollover period (seconds), if any.
    pub key_rotation_interval: Option<i64>,
    /// Whether protocol requests are recorded for `/_mock/requests` and `/_mock/findings`.
    pub request_log: bool,
    /// The sign-in page's "Test accounts" hint (built-in tenant only).
    pub hints: bool,
    /// The first signing keys of an empty data dir.
    pub first_keys: crate::keys::FirstKeys,
    /// Connections served at once, all workers together.
    pub max_connections: usize,
}

impl Settings {
    pub fn from_args(args: ServeArgs) -> anyhow::Result<Self> {
        let public_base_url = match args.public_base_url {
            Some(url) => {
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    anyhow::bail!("--public-base-url must be an http(s) URL with a host");
                }
                Some(url.as_str().trim_end_matches('/').to_string())
            }
            None => None,
        };
        Ok(Settings {
            http: Listen::parse(&args.http_addr)?,
            https: Listen::parse(&args.https_addr)?,
            data_dir: if args.ephemeral {
                DataDir::Ephemeral
            } else {
                DataDir::Persistent(args.data_dir)
            },
            fixtures: args
                .fixtures
                .map_or(FixtureSource::BuiltIn, FixtureSource::File),
            public_base_url,
            tls_san: args.tls_san,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            revocation_discovery: if args.advertise_revocation {
                RevocationDiscovery::Advertised
            } else {
                RevocationDiscovery::Hidden
            },
            admin_token: args.admin_token.filter(|t| !t.expose().trim().is_empty()),
            clock_offset: args.clock_offset,
            key_rotation_interval: args.key_rotation_interval,
            request_log: args.request_log == "on",
            hints: !args.no_hints,
            max_connections: args.max_connections as usize,
            first_keys: if args.fresh_keys {
                crate::keys::FirstKeys::Fresh
            } else {
                crate::keys::FirstKeys::WellKnown
            },
        })
    }

    /// Settings for tests and benches: both listeners on port 0 of loopback.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Settings {
            http: Listen::On(SocketAddr::from(([127, 0, 0, 1], 0))),
            https: Listen::On(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: DataDir::Persistent(data_dir),
            fixtures: FixtureSource::BuiltIn,
            public_base_url: None,
            tls_san: Vec::new(),
            workers: 2,
            revocation_discovery: RevocationDiscovery::Hidden,
            admin_token: None,
            clock_offset: 0,
            key_rotation_interval: None,
            request_log: true,
            hints: true,
            first_keys: crate::keys::FirstKeys::WellKnown,
            max_connections: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_off_and_port_zero() {
        assert_eq!(Listen::parse("off").unwrap(), Listen::Off);
        assert!(matches!(Listen::parse("127.0.0.1:0").unwrap(), Listen::On(a) if a.port() == 0));
        assert!(Listen::parse("localhost").is_err());
    }

    #[test]
    fn no_subcommand_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["entra-mock"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.https_addr, "127.0.0.1:8443");
        let cli = Cli::try_parse_from(["entra-mock", "serve", "--http-addr", "off"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(a)) if a.http_addr == "off"));
    }
}
