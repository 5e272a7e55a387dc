//! Storage faults (RELIABILITY.md R3, R4): a full disk and a read-only data
//! directory. The server runs in a mount namespace of its own on a small tmpfs
//! (`unshare --user --map-root-user --mount`, no root needed); the test fills
//! and frees that file system from inside the namespace with `nsenter`.

use std::path::Path;
use std::process::{Command, Stdio};

use natter_client::{Client, ClientError, Session};
use natter_protocol::conversations::{MessageContent, SendMessageRequest};
use natter_protocol::{ClientMsgId, ConversationId, ErrorCode};
use natter_testkit::{ProcessOptions, ProcessServer, all_messages, befriend, register};

const SERVER: &str = env!("CARGO_BIN_EXE_natter-test-server");

/// Starts the server through `unshare` on a fresh tmpfs of `size` mounted
/// over its data directory (`$2` of the script: the server binary is `$1`); `then` runs in the namespace before the server.
fn on_tmpfs(size: &str, then: &str) -> Vec<String> {
    let script = format!("mount -t tmpfs -o size={size} natter-test \"$2\" && {then} exec \"$@\"");
    [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "--",
        "sh",
        "-c",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([script, "sh".to_owned()])
    .collect()
}

/// Whether this machine lets an unprivileged process mount a tmpfs in a user
/// namespace (Linux with user namespaces enabled).
fn namespaces_work() -> bool {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--"])
        .args(["sh", "-c", "mount -t tmpfs t /mnt || mount -t tmpfs t /tmp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// An empty data directory to mount a tmpfs over (the temp dir holding it
/// must outlive the test); `None`, after saying so, where namespaces are off.
fn data_dir_for_a_tmpfs() -> anyhow::Result<Option<(tempfile::TempDir, std::path::PathBuf)>> {
    if !namespaces_work() {
        // scripts/test.sh sets this where the tests must run (as root: CI).
        anyhow::ensure!(
            std::env::var_os("NATTER_REQUIRE_NAMESPACES").is_none(),
            "NATTER_REQUIRE_NAMESPACES is set, but no tmpfs can be mounted in a user namespace"
        );
        eprintln!("NOT RUN: this machine cannot mount a tmpfs in a user namespace");
        return Ok(None);
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    Ok(Some((dir, data)))
}

/// Runs `script` inside the server's mount namespace.
fn in_namespace(server: &ProcessServer, script: &str) -> anyhow::Result<()> {
    let pid = server.pid().ok_or_else(|| anyhow::anyhow!("not running"))?;
    let status = Command::new("nsenter")
        .args([
            "--target",
            &pid.to_string(),
            "--user",
            "--mount",
            "--preserve-credentials",
        ])
        .args(["sh", "-c", script])
        .status()?;
    anyhow::ensure!(status.success(), "`{script}` failed in the namespace");
    Ok(())
}

fn text(client_msg_id: &str) -> SendMessageRequest {
    SendMessageRequest {
        client_msg_id: ClientMsgId(client_msg_id.into()),
        content: MessageContent::Text {
            text: format!("{client_msg_id} {}", "x".repeat(2000)),
        },
        reply_to: None,
    }
}

async fn send(
    session: &Session,
    conversation: ConversationId,
    id: &str,
) -> Result<(), ClientError> {
    session
        .send_message(conversation, &text(id))
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_and_the_server_recovers() -> anyhow::Result<()> {
    let Some((_dir, data)) = data_dir_for_a_tmpfs()? else {
        return Ok(());
    };
    let options = ProcessOptions {
        wrapper: on_tmpfs("16m", ""),
        ..ProcessOptions::default()
    };
    let server = ProcessServer::start_with(Path::new(SERVER), &data, options)?;
    let client = Client::new(&server.url())?;
    let (alice, bob) = (
        register(&client, "alice").await?,
        register(&client, "bob").await?,
    );
    let chat = befriend(&alice, &bob).await?;
    let mut acked = Vec::new();
    for i in 0..20 {
        let id = format!("before-{i}");
        send(&alice, chat, &id).await?;
        acked.push(id);
    }

    // Fill the file system to the last byte.
    in_namespace(
        &server,
        &format!(
            "dd if=/dev/zero of={}/ballast bs=64k 2>/dev/null; true",
            data.display()
        ),
    )?;
    let mut refused = Vec::new();
    for i in 0..2_000 {
        let id = format!("full-{i}");
        match send(&alice, chat, &id).await {
            Ok(()) => acked.push(id),
            Err(error) => {
                assert_eq!(error.code(), Some(ErrorCode::Unavailable), "{id}: {error}");
                assert_eq!(error.status(), Some(503), "{id}: {error}");
                refused.push(id);
                if refused.len() == 5 {
                    break;
                }
            }
        }
    }
    assert_eq!(refused.len(), 5, "writes never failed on a full disk");
    eprintln!(
        "full disk: {} messages acknowledged before and while filling, then 5 refused with `unavailable`",
        acked.len()
    );
    // Reading still works, and shows exactly what was acknowledged.
    let stored: Vec<String> = all_messages(&bob, chat)
        .await?
        .into_iter()
        .filter_map(|m| m.client_msg_id.map(|id| id.0))
        .collect();
    assert_eq!(
        stored, acked,
        "the stored messages are not the acknowledged ones"
    );

    // Space comes back: the same sends (same client ids) now go through, once.
    in_namespace(&server, &format!("rm {}/ballast", data.display()))?;
    for id in &refused {
        send(&alice, chat, id).await?;
        acked.push(id.clone());
    }
    send(&alice, chat, "after").await?;
    acked.push("after".into());
    let messages = all_messages(&bob, chat).await?;
    let stored: Vec<String> = messages
        .iter()
        .filter_map(|m| m.client_msg_id.as_ref().map(|id| id.0.clone()))
        .collect();
    assert_eq!(stored, acked);
    for (index, message) in messages.iter().enumerate() {
        assert_eq!(message.seq.0, index as i64 + 1, "a gap in the sequence");
    }
    Ok(())
}

#[tokio::test]
async fn a_read_only_data_directory_stops_the_start_with_a_clear_error() -> anyhow::Result<()> {
    let Some((_dir, data)) = data_dir_for_a_tmpfs()? else {
        return Ok(());
    };
    let wrapper = on_tmpfs("1m", "mount -o remount,ro \"$2\" &&");
    let output = Command::new(&wrapper[0])
        .args(&wrapper[1..])
        .arg(SERVER)
        .arg(&data)
        .arg("127.0.0.1:0")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the server started on a read-only directory"
    );
    assert!(
        stderr.contains("is not writable") && stderr.contains("Read-only file system"),
        "{stderr}"
    );
    Ok(())
}
