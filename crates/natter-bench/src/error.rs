//! [`BenchError`]: why a benchmark could not run.

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("the server URL must be http://<loopback IP>:<port>, got {0:?}")]
    BadUrl(String),
    #[error("setting up users failed: {0}")]
    Setup(#[from] natter_client::ClientError),
    #[error("WebSocket: {0}")]
    Socket(String),
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("reading /proc for pid {pid}: {reason}")]
    Proc { pid: u32, reason: String },
    #[error("worker process: {0}")]
    Worker(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("invalid parameters: {0}")]
    Params(String),
}
