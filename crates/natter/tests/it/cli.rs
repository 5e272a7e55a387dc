//! Scriptable commands: `login`, `send`, `tail`, `history`, `friends`.

use anyhow::Context;
use natter_testkit::TestServer;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{WAIT, login, natter, run, text};

#[tokio::test]
async fn send_from_one_shell_is_tailed_in_another() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    server.befriend(&alice, &bob).await?;
    let alice_dir = tempfile::tempdir()?;
    let bob_dir = tempfile::tempdir()?;
    let out = login(alice_dir.path(), &server.url(), &alice.user().username).await?;
    assert!(out.status.success(), "{}", text(&out));
    let out = login(bob_dir.path(), &server.url(), &bob.user().username).await?;
    assert!(out.status.success(), "{}", text(&out));

    // The token file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(alice_dir.path().join("session.json"))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let mut tail = natter()
        .args(["tail", "--count", "2", "--config-dir"])
        .arg(bob_dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(tail.stderr.take().context("stderr")?).lines();
    let ready = tokio::time::timeout(WAIT, stderr.next_line())
        .await
        .context("tail never became ready")??;
    assert!(
        ready.as_deref().is_some_and(|l| l.contains("listening")),
        "{ready:?}"
    );

    let bob_name = bob.user().username.clone();
    let out = run(
        alice_dir.path(),
        &["send", "--to", &bob_name, "hello", "from", "the", "shell"],
        "",
    )
    .await?;
    assert!(out.status.success(), "{}", text(&out));
    // With no text argument, `send` reads stdin.
    let out = run(
        alice_dir.path(),
        &["send", "--to", &bob_name],
        "line one\nline two\n",
    )
    .await?;
    assert!(out.status.success(), "{}", text(&out));

    let output = tokio::time::timeout(WAIT, tail.wait_with_output())
        .await
        .context("tail did not exit after 2 messages")??;
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["content"]["text"], "hello from the shell");
    assert_eq!(lines[1]["content"]["text"], "line one\nline two");
    assert_eq!(lines[0]["sender_id"], alice.user().id.0);

    // Bob reads the history as JSON.
    let alice_name = alice.user().username.clone();
    let out = run(bob_dir.path(), &["history", &alice_name, "--json"], "").await?;
    assert!(out.status.success(), "{}", text(&out));
    let history: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
    let texts: Vec<_> = history
        .iter()
        .map(|m| m["content"]["text"].clone())
        .collect();
    assert_eq!(texts, ["hello from the shell", "line one\nline two"]);

    // And his friends, with alice in them.
    let out = run(bob_dir.path(), &["friends"], "").await?;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8(out.stdout)?.contains(&alice_name));
    Ok(())
}

#[tokio::test]
async fn failures_have_meaningful_exit_codes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let dir = tempfile::tempdir()?;

    // Not logged in: 3.
    let out = run(dir.path(), &["send", "--to", "nobody", "hi"], "").await?;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("natter login"));

    // Wrong password: 3.
    let out = run(
        dir.path(),
        &[
            "login",
            "--server",
            &server.url(),
            "--username",
            &alice.user().username,
            "--password-stdin",
        ],
        "wrong password\n",
    )
    .await?;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // Unreachable server: 5.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let out = login(dir.path(), &format!("http://{closed}"), "alice").await?;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));

    // Unknown recipient: 4.
    let out = login(dir.path(), &server.url(), &alice.user().username).await?;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(dir.path(), &["send", "--to", "no_such_friend", "hi"], "").await?;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_friend"));

    // A conversation that is not yours: 4 (the server says not_found).
    let out = run(dir.path(), &["history", "#999999"], "").await?;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));

    // A revoked session: 3.
    let out = run(dir.path(), &["logout"], "").await?;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(dir.path(), &["friends"], "").await?;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    Ok(())
}

#[tokio::test]
async fn the_cli_logs_in_to_a_tls_server_it_is_told_to_trust() -> anyhow::Result<()> {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../natter-server/tests/fixtures");
    let cert = fixtures.join("test-cert.pem");
    let server = TestServer::start_with(|config| {
        config.http.tls_cert = Some(cert.clone());
        config.http.tls_key = Some(fixtures.join("test-key.pem"));
    })
    .await?;
    let client = natter_client::ClientOptions {
        extra_root_certificates_pem: Some(std::fs::read(&cert)?),
    };
    let url = format!("https://localhost:{}", server.addr().port());
    let alice = natter_testkit::register(
        &natter_client::Client::with_options(&url, &client)?,
        "tls_cli",
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let args = [
        "login",
        "--server",
        url.as_str(),
        "--username",
        alice.user().username.as_str(),
        "--password-stdin",
    ];
    let password = format!("{}\n", natter_testkit::PASSWORD);
    // The system does not trust the test certificate: a transport failure (5).
    let out = super::run(dir.path(), &args, &password).await?;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    // Told to trust it, the CLI logs in and works.
    let env = [(natter_tui::commands::CA_CERT_ENV, cert.as_path())];
    let out = super::run_with_env(dir.path(), &args, &password, &env).await?;
    assert!(out.status.success(), "{}", text(&out));
    // Later commands trust it without being told again: login saved it.
    let out = super::run(dir.path(), &["friends"], "").await?;
    assert!(out.status.success(), "{}", text(&out));
    Ok(())
}

/// Runs `natter args…` feeding it `chunks` of stdin until it stops reading
/// (a write error is the child having exited), at most `total` bytes.
async fn run_feeding(
    config: &std::path::Path,
    args: &[&str],
    chunk: Vec<u8>,
    total: usize,
) -> anyhow::Result<std::process::Output> {
    use tokio::io::AsyncWriteExt;
    let mut child = crate::spawn_piped(config, args, &[])?;
    let mut input = child.stdin.take().context("stdin")?;
    let feeder = tokio::spawn(async move {
        let mut written = 0;
        while written < total {
            if input.write_all(&chunk).await.is_err() {
                return written;
            }
            written += chunk.len();
        }
        written
    });
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .context("natter did not finish")??;
    let written = feeder.await?;
    anyhow::ensure!(written < total, "natter read all {written} bytes");
    Ok(output)
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn errors_a_user_hits_say_what_to_do() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let name = alice.user().username.clone();
    let dir = tempfile::tempdir()?;
    let password = format!("{}\n", natter_testkit::PASSWORD);
    let login_to = |url: String| {
        let name = name.clone();
        let password = password.clone();
        let dir = dir.path().to_path_buf();
        async move {
            let args = [
                "login",
                "--server",
                &url,
                "--username",
                &name,
                "--password-stdin",
            ];
            run(&dir, &args, &password).await
        }
    };

    // A URL with a path: something answered, but not the API. No type names.
    let out = login_to(format!("{}/chat", server.url())).await?;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(stderr(&out).contains("path /chat"), "{}", text(&out));
    assert!(
        stderr(&out).contains("not_a_natter_server"),
        "{}",
        text(&out)
    );
    assert!(!stderr(&out).contains("natter_protocol"), "{}", text(&out));

    // No scheme: say which URL to give, not the parser's words.
    let bare = server.url().replace("http://", "");
    let out = login_to(bare.clone()).await?;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("http://{bare}")),
        "{}",
        text(&out)
    );
    assert!(!stderr(&out).contains("relative URL"), "{}", text(&out));

    // No terminal to type the password on (a new session has none).
    let out = tokio::process::Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_natter"))
        .args(["login", "--server", &server.url(), "--username", &name])
        .arg("--config-dir")
        .arg(dir.path())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await?;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("--password-stdin"), "{}", text(&out));
    assert!(!stderr(&out).contains("No such device"), "{}", text(&out));

    let out = login_to(server.url()).await?;
    assert!(out.status.success(), "{}", text(&out));
    let bob_name = bob.user().username.clone();
    let send = ["send", "--to", bob_name.as_str()];

    // Binary stdin is not text, and is not called a terminal.
    let mut child = natter()
        .args(send)
        .arg("--config-dir")
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    {
        use tokio::io::AsyncWriteExt;
        let mut input = child.stdin.take().context("stdin")?;
        input.write_all(&[0xff, 0xfe, 0x00, 0x9b]).await?;
    }
    let out = tokio::time::timeout(WAIT, child.wait_with_output()).await??;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("not UTF-8 text"), "{}", text(&out));
    assert!(!stderr(&out).contains("terminal"), "{}", text(&out));

    // 27 MB of stdin: refused at the limit, without reading the rest, and
    // nothing is sent.
    let out = run_feeding(dir.path(), &send, vec![b'a'; 64 * 1024], 27_000_000).await?;
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(stderr(&out).contains("16384 bytes"), "{}", text(&out));
    assert!(stderr(&out).contains("too_large"), "{}", text(&out));
    // As arguments too.
    let long = "b".repeat(natter_client::protocol::limits::TEXT_MAX_BYTES + 1);
    let out = run(dir.path(), &["send", "--to", &bob_name, &long], "").await?;
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    // Exactly at the limit, with a final line break, it goes.
    let full = "c".repeat(natter_client::protocol::limits::TEXT_MAX_BYTES);
    let out = run(dir.path(), &send, &format!("{full}\n")).await?;
    assert!(out.status.success(), "{}", text(&out));
    let messages = natter_testkit::all_messages(&alice, conversation).await?;
    assert_eq!(messages.len(), 1, "only the message at the limit was sent");
    Ok(())
}

#[tokio::test]
async fn download_is_not_offered_until_it_works() -> anyhow::Result<()> {
    let out = natter().arg("--help").output().await?;
    assert!(out.status.success(), "{}", text(&out));
    let help = String::from_utf8(out.stdout)?;
    assert!(!help.contains("download"), "{help}");
    for command in ["friends", "groups", "devices"] {
        assert!(help.contains(command), "{help}");
    }
    Ok(())
}

#[tokio::test]
async fn tail_all_events_tags_every_line() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let bob_dir = tempfile::tempdir()?;
    let out = login(bob_dir.path(), &server.url(), &bob.user().username).await?;
    assert!(out.status.success(), "{}", text(&out));
    let mut tail = natter()
        .args(["tail", "--all-events", "--count", "1", "--config-dir"])
        .arg(bob_dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(tail.stderr.take().context("stderr")?).lines();
    tokio::time::timeout(WAIT, stderr.next_line())
        .await
        .context("tail never became ready")??;
    let sent = alice.send_text(conversation, "tagged").await?;
    let output = tokio::time::timeout(WAIT, tail.wait_with_output())
        .await
        .context("tail did not exit")??;
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert!(lines.iter().all(|l| l["type"].is_string()), "{lines:?}");
    let message = lines
        .iter()
        .find(|l| l["type"] == "message")
        .context("no message line")?;
    // The same message record as `history --json` and `send --json` print.
    assert_eq!(message["message"], serde_json::to_value(&sent)?);
    Ok(())
}
