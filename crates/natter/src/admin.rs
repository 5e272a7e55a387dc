//! `natter admin`: operator commands that work on an installation's data
//! directly, with the server stopped. Each is a subcommand of
//! [`AdminCommand`]; the work itself lives in the library crates.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Move a SQLite installation into a new, empty PostgreSQL database
    /// (stop the server first).
    #[command(long_about = MIGRATE_ABOUT)]
    MigrateToPostgres(MigrateArgs),
}

const MIGRATE_ABOUT: &str = "\
Move a SQLite installation into a new, empty PostgreSQL database.

Stop the server first: the move reads the data directory with an exclusive
lock and refuses one that a running server holds. Back the directory up
before (cp -a it while the server is stopped); the move only reads it.

Every user, device session (devices stay logged in), friendship, request,
block, conversation, member (roles, read positions) and message (every seq)
is copied, and the row counts of every table are compared at the end. The
change stream is not copied: each device reloads its lists once on its first
sync after the move, then fetches history as usual. The target must be
empty: the move never merges into an existing installation. Afterwards start
the nodes with --database on the same URL.";

#[derive(Args)]
struct MigrateArgs {
    /// The data directory of the SQLite installation (the one holding natter.db).
    #[arg(long, env = "NATTER_DATA")]
    data: PathBuf,
    /// The PostgreSQL URL of the new, empty database
    /// (postgres://user@host:5432/natter). The variable keeps a password out
    /// of the process list.
    #[arg(long, env = "NATTER_DATABASE")]
    database: String,
}

pub fn main(args: AdminArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.command {
        AdminCommand::MigrateToPostgres(args) => runtime.block_on(migrate_to_postgres(args)),
    }
}

async fn migrate_to_postgres(args: MigrateArgs) -> anyhow::Result<()> {
    let mut progress = Progress::new();
    let outcome =
        natter_store::migrate::sqlite_to_postgres(&args.data, &args.database, |table, rows| {
            progress.tell(table, rows)
        })
        .await;
    progress.end();
    match outcome {
        Ok(report) => {
            println!("{report}");
            println!("done: start the nodes with --database on this database");
            Ok(())
        }
        Err(error) => {
            // The message is the whole story (what was refused or failed, and
            // what to do); a backtrace would only bury it.
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}

/// Progress on stderr: a line per table, and at most one a second within one.
struct Progress {
    table: String,
    told: Instant,
    rows: u64,
}

const EVERY: Duration = Duration::from_secs(1);

impl Progress {
    fn new() -> Progress {
        Progress {
            table: String::new(),
            told: Instant::now(),
            rows: 0,
        }
    }

    fn tell(&mut self, table: &str, rows: u64) {
        if table != self.table {
            self.end();
            self.table = table.to_owned();
            self.told = Instant::now();
            if table == natter_store::migrate::ADVANCING_TRANSACTION_IDS {
                eprintln!("advancing PostgreSQL's transaction ids past SQLite's sync clock...");
            } else {
                eprintln!("copying {table}...");
            }
        } else if self.told.elapsed() >= EVERY {
            self.told = Instant::now();
            eprintln!("  {table}: {rows}");
        }
        self.rows = rows;
    }

    fn end(&mut self) {
        if !self.table.is_empty() {
            eprintln!("  {}: {} done", self.table, self.rows);
        }
        // Nothing to do if stderr is gone; the report on stdout says it all.
        let _ = std::io::stderr().flush();
        self.table.clear();
    }
}
