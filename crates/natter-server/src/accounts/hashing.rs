//! Password hashing (Argon2id) on a few dedicated threads.
//!
//! Each thread owns one Argon2 memory area (19 MiB with the default
//! parameters), allocated on its first hash and reused for every later one. Allocating it per hash on
//! whatever blocking thread happens to run it made the allocator keep one
//! such area per thread: measured, the server grew from 11 MiB to 1.1 GiB
//! after a few hundred logins and never gave it back. The thread count bounds
//! how many hashes run at once; the queue in front of them is fair between
//! client addresses and bounded, so a flood is refused rather than queued.

use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use tokio::sync::oneshot;

use super::fair_queue::{FairQueue, Shares};

/// Why a hash could not be made or checked (never the password's fault).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing is shutting down")]
    Stopped,
    /// The caller's share of the queue is used up: refuse, do not wait.
    #[error("too many password checks are waiting")]
    Busy,
    #[error("argon2: {0}")]
    Argon2(String),
}

/// Who a hash is for: its client address (the queue's lane) and its account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requester {
    pub address: IpAddr,
    pub account: String,
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, HashError>>,
    },
    Verify {
        password: String,
        hash: String,
        reply: oneshot::Sender<Result<bool, HashError>>,
    },
}

/// Jobs waiting for a hashing thread, taken lane by lane (see `fair_queue`).
struct Waiting {
    queue: Mutex<Queue>,
    ready: Condvar,
}

struct Queue {
    jobs: FairQueue<IpAddr, String, Job>,
    stopped: bool,
}

impl Waiting {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A worker that panicked mid-job left the queue itself consistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A handle to the hashing threads; they stop when it is dropped.
pub struct PasswordHashing {
    waiting: Arc<Waiting>,
}

impl PasswordHashing {
    /// Starts `threads` hashing threads (at least one). With `per_address`
    /// (the fair mode), each thread queues at most 64 jobs, at most
    /// `per_address` from one client address and 2 for one account: with the
    /// default 2 threads a queued job waits at most ~0.7 s. Without it (load
    /// tests, rate limits off) the queue takes everything.
    pub fn start(threads: usize, per_address: Option<usize>) -> PasswordHashing {
        let threads = threads.max(1);
        let shares = match per_address {
            Some(per_lane) => Shares {
                total: 64 * threads,
                per_lane,
                per_account: 2,
            },
            None => Shares {
                total: usize::MAX,
                per_lane: usize::MAX,
                per_account: usize::MAX,
            },
        };
        let waiting = Arc::new(Waiting {
            queue: Mutex::new(Queue {
                jobs: FairQueue::new(shares),
                stopped: false,
            }),
            ready: Condvar::new(),
        });
        for index in 0..threads {
            let waiting = waiting.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("natter-argon2-{index}"))
                .spawn(move || worker(&waiting));
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        PasswordHashing { waiting }
    }

    fn submit(&self, who: &Requester, job: Job) -> Result<(), HashError> {
        let mut queue = self.waiting.lock();
        if queue.stopped {
            return Err(HashError::Stopped);
        }
        queue
            .jobs
            .push(who.address, who.account.clone(), job)
            .map_err(|_| HashError::Busy)?;
        drop(queue);
        self.waiting.ready.notify_one();
        Ok(())
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `password`.
    pub async fn hash(&self, password: String, who: &Requester) -> Result<String, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(who, Job::Hash { password, reply })?;
        answer.await.map_err(|_| HashError::Stopped)?
    }

    /// Whether `password` matches the PHC string `hash`.
    pub async fn verify(
        &self,
        password: String,
        hash: String,
        who: &Requester,
    ) -> Result<bool, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(
            who,
            Job::Verify {
                password,
                hash,
                reply,
            },
        )?;
        answer.await.map_err(|_| HashError::Stopped)?
    }
}

impl Drop for PasswordHashing {
    fn drop(&mut self) {
        self.waiting.lock().stopped = true;
        self.waiting.ready.notify_all();
    }
}

fn worker(waiting: &Waiting) {
    let params = Params::default();
    // Allocated on the first hash and then kept: a server nobody has logged in
    // to holds none of it, and one area per thread is reused ever after.
    // (Measured: freeing it between bursts let the allocator's heaps grow to
    // 265 MiB after 200 hashes; keeping it holds the server at 50 MiB.)
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let (lane, job) = {
            let mut queue = waiting.lock();
            loop {
                if let Some(next) = queue.jobs.pop(Instant::now()) {
                    break next;
                }
                if queue.stopped {
                    return;
                }
                queue = waiting
                    .ready
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        match job {
            // The caller may have given up waiting; the answer is simply dropped.
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(&params, &mut memory, password.as_bytes()));
            }
            Job::Verify {
                password,
                hash,
                reply,
            } => {
                let verdict = verify_with(&mut memory, password.as_bytes(), &hash);
                if matches!(verdict, Ok(false)) {
                    waiting.lock().jobs.failed(lane, Instant::now());
                }
                let _ = reply.send(verdict);
            }
        }
    }
}

fn argon2_error(error: impl std::fmt::Display) -> HashError {
    HashError::Argon2(error.to_string())
}

/// Runs Argon2id with `params`, in `memory` when it is large enough.
#[allow(clippy::ptr_arg)] // the area is allocated on the first hash
fn compute(
    params: &Params,
    memory: &mut Vec<Block>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    argon2
        .hash_password_into_with_memory(password, salt, out, &mut memory[..needed])
        .map_err(argon2_error)
}

fn hash_with(
    params: &Params,
    memory: &mut Vec<Block>,
    password: &[u8],
) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(params, memory, password, &salt, &mut out)?;
    let salt = SaltString::encode_b64(&salt).map_err(argon2_error)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(argon2_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(argon2_error)?),
    };
    Ok(hash.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &[u8], stored: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(stored).map_err(argon2_error)?;
    let params = Params::try_from(&parsed).map_err(argon2_error)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(HashError::Argon2("stored hash lacks salt or output".into()));
    };
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(argon2_error)?;
    let mut out = vec![0u8; expected.len()];
    compute(&params, memory, password, salt, &mut out)?;
    // `Output` compares in constant time.
    Ok(Output::new(&out).map_err(argon2_error)? == expected)
}

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier;

    use super::*;

    fn someone() -> Requester {
        Requester {
            address: IpAddr::from([10, 0, 0, 1]),
            account: "someone".into(),
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_interoperate_with_the_argon2_crate() {
        let hashing = PasswordHashing::start(1, Some(4));
        let who = &someone();
        let hash = hashing
            .hash("correct horse".into(), who)
            .await
            .expect("hashes");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hashing
                .verify("correct horse".into(), hash.clone(), who)
                .await
                .expect("verifies")
        );
        assert!(
            !hashing
                .verify("correct horsE".into(), hash.clone(), who)
                .await
                .expect("verifies")
        );
        // The argon2 crate accepts our strings, and we accept its.
        let parsed = PasswordHash::new(&hash).expect("parses");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let theirs = {
            use argon2::PasswordHasher;
            let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
            Argon2::default()
                .hash_password(b"pw from elsewhere", &salt)
                .expect("hash")
                .to_string()
        };
        assert!(
            hashing
                .verify("pw from elsewhere".into(), theirs, who)
                .await
                .expect("verifies")
        );
        assert!(
            hashing
                .verify("x".into(), "not a hash".into(), who)
                .await
                .is_err()
        );
    }
}
