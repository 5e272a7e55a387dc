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
