#[actix_web::main]
async fn main() -> std::process::ExitCode {
    entra_mock::cli::main().await
}
