//! `pagesift probe [PATH]`: asks the local HTTP endpoint (`http.listen`) for `PATH`
//! (`/healthz` by default) and exits 0 on `200 OK`, 1 otherwise. It lets a container image
//! without curl or a shell run its `HEALTHCHECK`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::settings::Settings;

/// Arguments of `pagesift probe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to request: `/healthz` (alive) or `/readyz` (consuming).
    #[arg(default_value = "/healthz")]
    pub path: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let listen: SocketAddr = settings
        .http
        .listen
        .parse()
        .context("http.listen is not an address")?;
    let addr = crate::http::local_addr_for(listen);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let answer = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(args.timeout),
            crate::http::get(addr, &args.path),
        )
        .await
    });
    match answer {
        Ok(Ok((200, _))) => Ok(ExitCode::SUCCESS),
        Ok(Ok((status, body))) => {
            eprintln!(
                "pagesift: {addr}{}: HTTP {status}: {}",
                args.path,
                body.trim()
            );
            Ok(ExitCode::FAILURE)
        }
        Ok(Err(err)) => {
            eprintln!("pagesift: {addr}{}: {err}", args.path);
            Ok(ExitCode::FAILURE)
        }
        Err(_) => {
            eprintln!(
                "pagesift: {addr}{}: no answer in {} s",
                args.path, args.timeout
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
