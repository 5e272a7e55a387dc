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

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

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

/// Jobs by lane, taken one lane at a time in rotation.
pub struct FairQueue<L, A, J> {
    shares: Shares,
    lanes: HashMap<L, VecDeque<(A, J)>>,
    /// Lanes with work, in the order they are served next.
    turn: VecDeque<L>,
    accounts: HashMap<A, usize>,
    waiting: usize,
}

impl<L: Hash + Eq + Clone, A: Hash + Eq + Clone, J> FairQueue<L, A, J> {
    pub fn new(shares: Shares) -> Self {
        FairQueue {
            shares,
            lanes: HashMap::new(),
            turn: VecDeque::new(),
            accounts: HashMap::new(),
            waiting: 0,
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

    /// The next job: the oldest of the lane whose turn it is.
    pub fn pop(&mut self) -> Option<J> {
        let lane = self.turn.pop_front()?;
        let jobs = self.lanes.get_mut(&lane)?;
        let (account, job) = jobs.pop_front()?;
        if jobs.is_empty() {
            self.lanes.remove(&lane);
        } else {
            self.turn.push_back(lane);
        }
        if let Some(count) = self.accounts.get_mut(&account) {
            *count -= 1;
            if *count == 0 {
                self.accounts.remove(&account);
            }
        }
        self.waiting -= 1;
        Some(job)
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

    #[test]
    fn lanes_take_turns_whatever_each_has_queued() {
        let mut q = queue(100, 10, 10);
        for job in 0..5 {
            q.push("flood", job, job).expect("fits");
        }
        q.push("user", 99, 100).expect("fits");
        // The flood's first job was there first; the user's is next, not sixth.
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), Some(100));
        assert_eq!(
            (1..5).map(|_| q.pop()).collect::<Vec<_>>(),
            [1, 2, 3, 4].map(Some)
        );
        assert_eq!(q.pop(), None);
        assert_eq!(q.len(), 0);
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
        assert_eq!(q.pop(), Some(1));
        q.push("c", 1, 7)
            .expect("account 1 and a place are free again");
    }
}
