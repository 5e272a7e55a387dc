//! A server in its own process, to be killed and restarted on the same data.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::Context;

/// A `natter-test-server` child process.
pub struct ProcessServer {
    binary: PathBuf,
    data: PathBuf,
    options: ProcessOptions,
    addr: SocketAddr,
    child: Option<Child>,
}

/// How the server process is started.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// The `NATTER_LOG` filter.
    pub log: String,
    /// A command (with its arguments) the server is started through, for
    /// instance one that gives it a small file system; the server's own
    /// command line is appended.
    pub wrapper: Vec<String>,
    /// Environment for the server (`NATTER_DATABASE`, `NATTER_BUS`, ...: see
    /// the `natter-test-server` binary).
    pub env: Vec<(String, String)>,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            log: "warn".into(),
            wrapper: Vec::new(),
            env: Vec::new(),
        }
    }
}

impl ProcessServer {
    /// Starts `binary` (the `natter-test-server` of this crate) on `data`, on an
    /// ephemeral loopback port, and waits until it listens.
    pub fn start(binary: &Path, data: &Path) -> anyhow::Result<ProcessServer> {
        ProcessServer::start_with(binary, data, ProcessOptions::default())
    }

    /// [`ProcessServer::start`] with other options.
    pub fn start_with(
        binary: &Path,
        data: &Path,
        options: ProcessOptions,
    ) -> anyhow::Result<ProcessServer> {
        let (child, addr) = spawn(binary, data, "127.0.0.1:0", &options)?;
        Ok(ProcessServer {
            binary: binary.into(),
            data: data.into(),
            options,
            addr,
            child: Some(child),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the process is running (it may have been killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no shutdown path runs at all.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("kill")?;
            child.wait().context("reap")?;
        }
        Ok(())
    }

    /// SIGTERM, then waits for the process to exit by itself.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("not running")?;
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .context("kill -TERM")?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        child.wait().context("wait")
    }

    /// Starts the server again on the same data directory and address (it
    /// is killed first if it still runs).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        let (child, addr) = spawn(
            &self.binary,
            &self.data,
            &self.addr.to_string(),
            &self.options,
        )?;
        anyhow::ensure!(addr == self.addr, "came back on {addr}, not {}", self.addr);
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for ProcessServer {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

fn spawn(
    binary: &Path,
    data: &Path,
    address: &str,
    options: &ProcessOptions,
) -> anyhow::Result<(Child, SocketAddr)> {
    let mut command = match options.wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    let mut child = command
        .arg(data)
        .arg(address)
        .env("NATTER_LOG", &options.log)
        .envs(options.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading the address")?;
    let addr = line
        .trim()
        .strip_prefix("LISTENING ")
        .with_context(|| format!("unexpected output {line:?}"))?;
    Ok((child, addr.parse()?))
}
