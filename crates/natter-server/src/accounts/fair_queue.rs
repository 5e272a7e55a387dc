//! A bounded queue that serves its senders in turn.
//!
//! Password hashing is the one expensive step anyone can trigger without an
//! account. With a plain FIFO, 300 wrong logins from 30 addresses (each far
//! under its own budget) delayed a real login by 20 s; one signed-in account
//! hammering `POST /me/password` pushed other people's logins from ~50 ms to
//! ~400 ms. Here every client address has a lane of its own, lanes are served
//! round-robin, and each lane, each account and the whole queue hold only a
//! few jobs: what does not fit is refused at once (the caller answers
//! `rate_limited`) instead of waiting behind everybody else.
//!
//! Taking turns is not enough when many addresses flood at once: 30 of them,
//! each within its budget, still made a real login wait behind one job of
//! each (≈ 1 s, ×45 the quiet figure). So a lane's standing counts the wrong
//! passwords it sent lately (halving every [`HALF_LIFE`]), and the next job
//! comes from the waiting lane with the fewest: someone who types their own
//! password goes before everyone guessing, and a guesser that stops is
//! forgiven within minutes.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How fast a lane's wrong passwords are forgiven: their count halves.
pub const HALF_LIFE: Duration = Duration::from_secs(60);
/// Lanes whose standing is remembered at most; past it the forgiven are
/// forgotten first (so a flood of addresses cannot grow memory without bound).
const MAX_STANDINGS: usize = 4096;

/// How much the queue holds.
#[derive(Debug, Clone, Copy)]
pub struct Shares {
    /// Jobs waiting in all.
    pub total: usize,
    /// Jobs waiting from one lane (a client address).
    pub per_lane: usize,
    /// Jobs waiting for one account.
    pub per_account: usize,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Total,
    Lane,
    Account,
}

/// Wrong passwords a lane sent lately, decayed to `at`.
#[derive(Debug, Clone, Copy)]
struct Standing {
    failures: f64,
    at: Instant,
}

impl Standing {
    fn at(self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.failures * 0.5f64.powf(elapsed / HALF_LIFE.as_secs_f64())
    }
}

/// Jobs by lane, taken one lane at a time in rotation, lanes with fewer
/// recent failures first.
pub struct FairQueue<L, A, J> {
    shares: Shares,
    lanes: HashMap<L, VecDeque<(A, J)>>,
    /// Lanes with work, in the order they are served next (among equals).
    turn: VecDeque<L>,
    accounts: HashMap<A, usize>,
    waiting: usize,
    standings: HashMap<L, Standing>,
}

impl<L: Hash + Eq + Clone, A: Hash + Eq + Clone, J> FairQueue<L, A, J> {
    pub fn new(shares: Shares) -> Self {
        FairQueue {
            shares,
            lanes: HashMap::new(),
            turn: VecDeque::new(),
            accounts: HashMap::new(),
            waiting: 0,
            standings: HashMap::new(),
        }
    }

    /// Queues `job` for `account` in `lane`, unless a share is used up.
    pub fn push(&mut self, lane: L, account: A, job: J) -> Result<(), Full> {
        if self.waiting >= self.shares.total {
            return Err(Full::Total);
        }
        let queued = self.lanes.get(&lane).map_or(0, VecDeque::len);
        if queued >= self.shares.per_lane.max(1) {
            return Err(Full::Lane);
        }
        let for_account = self.accounts.get(&account).copied().unwrap_or(0);
        if for_account >= self.shares.per_account.max(1) {
            return Err(Full::Account);
        }
        if queued == 0 {
            self.turn.push_back(lane.clone());
        }
        self.lanes
            .entry(lane)
            .or_default()
            .push_back((account.clone(), job));
        *self.accounts.entry(account).or_insert(0) += 1;
        self.waiting += 1;
        Ok(())
    }

    /// The next job and its lane: the oldest job of the waiting lane with
    /// the fewest recent failures, the earliest in turn among equals.
    pub fn pop(&mut self, now: Instant) -> Option<(L, J)> {
        let standing = |lane: &L| self.standings.get(lane).map_or(0.0, |s| s.at(now));
        let (index, _) = self
            .turn
            .iter()
            .enumerate()
            .map(|(index, lane)| (index, standing(lane)))
            .fold(
                None,
                |best: Option<(usize, f64)>, (index, failures)| match best {
                    Some((_, least)) if least <= failures => best,
                    _ => Some((index, failures)),
                },
            )?;
        let lane = self.turn.remove(index)?;
        let jobs = self.lanes.get_mut(&lane)?;
        let (account, job) = jobs.pop_front()?;
        if jobs.is_empty() {
            self.lanes.remove(&lane);
        } else {
            self.turn.push_back(lane.clone());
        }
        if let Some(count) = self.accounts.get_mut(&account) {
            *count -= 1;
            if *count == 0 {
                self.accounts.remove(&account);
            }
        }
        self.waiting -= 1;
        Some((lane, job))
    }

    /// A job from `lane` checked a wrong password.
    pub fn failed(&mut self, lane: L, now: Instant) {
        if self.standings.len() >= MAX_STANDINGS && !self.standings.contains_key(&lane) {
            self.standings.retain(|_, standing| standing.at(now) >= 0.5);
            if self.standings.len() >= MAX_STANDINGS {
                self.standings.clear();
            }
        }
        let standing = self.standings.entry(lane).or_insert(Standing {
            failures: 0.0,
            at: now,
        });
        *standing = Standing {
            failures: standing.at(now) + 1.0,
            at: now,
        };
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(
        total: usize,
        per_lane: usize,
        per_account: usize,
    ) -> FairQueue<&'static str, u32, u32> {
        FairQueue::new(Shares {
            total,
            per_lane,
            per_account,
        })
    }

    fn pop(q: &mut FairQueue<&'static str, u32, u32>, now: Instant) -> Option<u32> {
        q.pop(now).map(|(_, job)| job)
    }

    #[test]
    fn lanes_take_turns_whatever_each_has_queued() {
        let now = Instant::now();
        let mut q = queue(100, 10, 10);
        for job in 0..5 {
            q.push("flood", job, job).expect("fits");
        }
        q.push("user", 99, 100).expect("fits");
        // The flood's first job was there first; the user's is next, not sixth.
        assert_eq!(q.pop(now), Some(("flood", 0)));
        assert_eq!(q.pop(now), Some(("user", 100)));
        assert_eq!(
            (1..5).map(|_| pop(&mut q, now)).collect::<Vec<_>>(),
            [1, 2, 3, 4].map(Some)
        );
        assert_eq!(q.pop(now), None);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_lane_that_guessed_wrong_waits_behind_those_that_did_not() {
        let now = Instant::now();
        let mut q = queue(100, 10, 10);
        for (lane, wrong) in [("guesser-1", 3), ("guesser-2", 5)] {
            for _ in 0..wrong {
                q.failed(lane, now);
            }
        }
        q.push("guesser-2", 1, 1).expect("fits");
        q.push("guesser-1", 2, 2).expect("fits");
        q.push("guesser-2", 1, 3).expect("fits");
        q.push("user", 3, 4).expect("fits");
        // Last in turn, but no wrong password: first out. Then the fewer failures.
        assert_eq!(
            (0..4).map(|_| pop(&mut q, now)).collect::<Vec<_>>(),
            [4, 2, 1, 3].map(Some)
        );
    }

    #[test]
    fn wrong_passwords_are_forgiven_as_time_passes() {
        let start = Instant::now();
        let mut q = queue(100, 10, 10);
        for _ in 0..8 {
            q.failed("once-wrong", start);
        }
        let later = start + HALF_LIFE * 12;
        q.failed("lately-wrong", later);
        q.push("lately-wrong", 1, 1).expect("fits");
        q.push("once-wrong", 2, 2).expect("fits");
        // 8 failures twelve half-lives ago weigh less than one just now.
        assert_eq!(pop(&mut q, later), Some(2));
        assert_eq!(pop(&mut q, later), Some(1));
    }

    #[test]
    fn standings_stay_bounded_whatever_the_number_of_addresses() {
        let now = Instant::now();
        let mut q: FairQueue<u32, u32, u32> = FairQueue::new(Shares {
            total: 10,
            per_lane: 1,
            per_account: 1,
        });
        for lane in 0..(MAX_STANDINGS as u32 * 3) {
            q.failed(lane, now);
        }
        assert!(q.standings.len() <= MAX_STANDINGS);
    }

    #[test]
    fn every_share_is_bounded_and_freed_as_jobs_leave() {
        let mut q = queue(3, 2, 1);
        q.push("a", 1, 1).expect("fits");
        assert_eq!(q.push("a", 1, 2), Err(Full::Account), "one per account");
        q.push("a", 2, 3).expect("fits");
        assert_eq!(q.push("a", 3, 4), Err(Full::Lane), "two per lane");
        q.push("b", 4, 5).expect("fits");
        assert_eq!(q.push("c", 5, 6), Err(Full::Total), "three in all");
        assert_eq!(pop(&mut q, Instant::now()), Some(1));
        q.push("c", 1, 7)
            .expect("account 1 and a place are free again");
    }
}
