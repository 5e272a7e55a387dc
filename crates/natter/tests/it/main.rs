//! The `natter` binary's client commands against a real (in-process)
//! server: scripts log in, send, tail and read history; failures have
//! meaningful exit codes. Plus one end-to-end run of `natter chat` in tmux,
//! and the move of an installation from SQLite to PostgreSQL.

mod cli;
mod echo_bot;
mod logs;
mod migrate;
mod people;
mod tmux;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

pub const WAIT: Duration = Duration::from_secs(30);

pub fn natter() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_natter"));
    command.env_remove("NATTER_CONFIG_DIR").kill_on_drop(true);
    command
}

/// Runs `natter args…` with `stdin` and waits for it.
pub async fn run(config: &Path, args: &[&str], stdin: &str) -> anyhow::Result<Output> {
    run_with_env(config, args, stdin, &[]).await
}

/// Starts `natter args… --config-dir config` with stdin, stdout and stderr piped.
pub fn spawn_piped(
    config: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> anyhow::Result<tokio::process::Child> {
    let mut command = natter();
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .args(args)
        .arg("--config-dir")
        .arg(config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("spawn natter")
}

/// [`run`] with extra environment variables.
pub async fn run_with_env(
    config: &Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &Path)],
) -> anyhow::Result<Output> {
    let mut child = spawn_piped(config, args, env)?;
    let mut input = child.stdin.take().context("stdin")?;
    input.write_all(stdin.as_bytes()).await?;
    drop(input);
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .context("natter did not finish")??;
    Ok(output)
}

/// Logs `username` in with the test password, saving into `config`.
pub async fn login(config: &Path, url: &str, username: &str) -> anyhow::Result<Output> {
    run(
        config,
        &[
            "login",
            "--server",
            url,
            "--username",
            username,
            "--password-stdin",
        ],
        &format!("{}\n", natter_testkit::PASSWORD),
    )
    .await
}

pub fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
