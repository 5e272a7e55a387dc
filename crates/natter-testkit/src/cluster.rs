//! Several `natter-test-server` processes on one PostgreSQL database and one
//! Redis, behind a [`Balancer`]: the scale-out mode as tests drive it.

use std::path::Path;

use anyhow::Context;
use natter_store::postgres::ScratchDatabase;

use crate::{Balancer, ProcessOptions, ProcessServer, ScratchRedis};

/// A running cluster. Dropping it kills the nodes and Redis and drops the database.
pub struct TestCluster {
    nodes: Vec<ProcessServer>,
    balancer: Balancer,
    redis: ScratchRedis,
    // Dropped last: the nodes hold connections to it.
    _database: ScratchDatabase,
    _dirs: Vec<tempfile::TempDir>,
}

/// How a cluster is started.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub nodes: usize,
    /// Seconds a node's presence lease lasts (short, so that tests of a dead
    /// node need not wait long).
    pub presence_lease_secs: u64,
    /// The `NATTER_LOG` filter of every node.
    pub log: String,
    /// Sockets one account may hold on a node (`None`: the default cap).
    pub max_connections_per_user: Option<usize>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 3,
            presence_lease_secs: 3,
            log: "warn".into(),
            max_connections_per_user: None,
        }
    }
}

impl TestCluster {
    /// Starts `options.nodes` nodes of `binary` (this crate's
    /// `natter-test-server`) on a fresh database and a Redis of their own.
    /// `None` (after a notice) when PostgreSQL cannot be reached outside CI;
    /// under `CI=true` that is an error.
    pub async fn start(
        binary: &Path,
        options: ClusterOptions,
    ) -> anyhow::Result<Option<TestCluster>> {
        let Some(database) = ScratchDatabase::create_for_tests().await? else {
            return Ok(None);
        };
        let redis = ScratchRedis::start()?;
        let mut env = vec![
            ("NATTER_DATABASE".to_owned(), database.url().to_owned()),
            ("NATTER_BUS".to_owned(), redis.url()),
            ("NATTER_KEY_PREFIX".to_owned(), "cluster-test:".to_owned()),
            (
                "NATTER_PRESENCE_LEASE_SECS".to_owned(),
                options.presence_lease_secs.to_string(),
            ),
        ];
        if let Some(cap) = options.max_connections_per_user {
            env.push((
                "NATTER_MAX_CONNECTIONS_PER_USER".to_owned(),
                cap.to_string(),
            ));
        }
        let process = ProcessOptions {
            log: options.log.clone(),
            wrapper: Vec::new(),
            env,
        };
        let mut nodes = Vec::new();
        let mut dirs = Vec::new();
        for i in 0..options.nodes.max(1) {
            let dir = tempfile::tempdir().context("node dir")?;
            let node = ProcessServer::start_with(binary, dir.path(), process.clone())
                .with_context(|| format!("starting node {i}"))?;
            nodes.push(node);
            dirs.push(dir);
        }
        let balancer = Balancer::start(nodes.iter().map(ProcessServer::addr).collect()).await?;
        Ok(Some(TestCluster {
            nodes,
            balancer,
            redis,
            _database: database,
            _dirs: dirs,
        }))
    }

    /// The front door: each connection goes to a node that is up.
    pub fn url(&self) -> String {
        self.balancer.url()
    }

    /// One node's own address.
    pub fn node_url(&self, node: usize) -> String {
        self.nodes[node].url()
    }

    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// SIGKILL: the node stops without any shutdown path.
    pub fn kill(&mut self, node: usize) -> anyhow::Result<()> {
        self.nodes[node].kill()
    }

    /// Starts a killed node again on its address.
    pub fn restart(&mut self, node: usize) -> anyhow::Result<()> {
        self.nodes[node].restart()
    }

    /// Kills Redis (losing everything in it) and starts it again.
    pub fn restart_redis(&mut self) -> anyhow::Result<()> {
        self.redis.restart()
    }
}
