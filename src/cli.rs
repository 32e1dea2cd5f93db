//! The `entra-mock` command.

use std::process::ExitCode;

use clap::Parser;

use crate::config::{Cli, Command, Settings};
use crate::startup::Application;

pub async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ENTRA_MOCK_LOG")
                .unwrap_or_else(|_| "entra_mock=info,actix_web=warn".into()),
        )
        .with_target(false)
        .init();
    let cli = Cli::parse();
    crate::open_files::raise();
    let args = match cli.command {
        Some(Command::Serve(a)) => *a,
        Some(Command::Healthcheck { url }) => {
            return match healthcheck(&url) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("entra-mock healthcheck: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Ctl(a)) => {
            return match crate::ctl::run(&a) {
                Ok(out) => {
                    println!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("entra-mock ctl: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Api(a)) => return finish("api", crate::clients::api::run(a).await),
        Some(Command::Bff(a)) => return finish("bff", crate::clients::bff::run(a).await),
        Some(Command::Demo(a)) => return finish("demo", crate::clients::demo::run(*a).await),
        Some(Command::Spa(a)) => return finish("spa", crate::clients::spa::run(a).await),
        None => cli.serve,
    };
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("entra-mock: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The exit of a subcommand that runs until stopped.
fn finish(name: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("entra-mock {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: crate::config::ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::from_args(args)?;
    let app = Application::build(settings).await?;
    print!("{}", app.banner());
    use std::io::Write;
    std::io::stdout().flush()?;
    app.run_until_stopped().await?;
    Ok(())
}

/// A bare HTTP/1.1 GET, so that the container image needs no curl.
fn healthcheck(url: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let parsed = url::Url::parse(url)?;
    anyhow::ensure!(
        parsed.scheme() == "http",
        "only http:// health URLs are supported"
    );
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("no host in {url}"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let mut stream = std::net::TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n",
        parsed.path()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.lines().next().unwrap_or_default();
    anyhow::ensure!(status.contains(" 200 "), "unhealthy: {status}");
    Ok(())
}
