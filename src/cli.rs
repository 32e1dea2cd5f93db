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
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
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

async fn serve(args: crate::config::ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::from_args(args)?;
    let app = Application::build(settings).await?;
    print!("{}", app.banner());
    use std::io::Write;
    std::io::stdout().flush()?;
    app.run_until_stopped().await?;
    Ok(())
}
