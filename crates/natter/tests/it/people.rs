//! `natter friends add|accept|decline|cancel|remove|block|unblock`,
//! `natter groups create|invite|kick|leave|rename|members` and
//! `natter devices list|revoke`, as a script runs them: exit codes, text and
//! JSON output.

use std::path::Path;

use natter_testkit::TestServer;
use serde_json::Value;

use super::{login, run, text};

/// Runs a command that must succeed; returns its stdout.
async fn ok(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = run(dir, args, "").await?;
    anyhow::ensure!(out.status.success(), "{args:?}: {}", text(&out));
    Ok(String::from_utf8(out.stdout)?)
}

/// Runs a command that must succeed with `--json`; returns its JSON.
async fn ok_json(dir: &Path, args: &[&str]) -> anyhow::Result<Value> {
    let mut args = args.to_vec();
    args.push("--json");
    Ok(serde_json::from_str(&ok(dir, &args).await?)?)
}

/// Runs a command that must fail; returns its exit code.
async fn fails(dir: &Path, args: &[&str]) -> anyhow::Result<Option<i32>> {
    let out = run(dir, args, "").await?;
    anyhow::ensure!(!out.status.success(), "{args:?} succeeded: {}", text(&out));
    anyhow::ensure!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        text(&out)
    );
    Ok(out.status.code())
}

fn usernames(list: &Value, path: &[&str]) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    path.iter()
                        .try_fold(item, |v, key| v.get(key))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn befriending_from_the_cli() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let [alice, bob, carol] = [
        server.user("alice").await?,
        server.user("bob").await?,
        server.user("carol").await?,
    ];
    let (a, b, c) = (
        alice.user().username.as_str(),
        bob.user().username.as_str(),
        carol.user().username.as_str(),
    );
    let dirs = [
        tempfile::tempdir()?,
        tempfile::tempdir()?,
        tempfile::tempdir()?,
    ];
    for (dir, name) in dirs.iter().zip([a, b, c]) {
        let out = login(dir.path(), &server.url(), name).await?;
        assert!(out.status.success(), "{}", text(&out));
    }
    let [ad, bd, cd] = [dirs[0].path(), dirs[1].path(), dirs[2].path()];

    // Alice asks Bob; both see the pending request, each on their side.
    let said = ok(ad, &["friends", "add", b, "--greeting", "hi bob"]).await?;
    assert!(said.contains("friend request sent"), "{said}");
    let bobs = ok_json(bd, &["friends"]).await?;
    assert_eq!(usernames(&bobs["incoming"], &["from", "username"]), [a]);
    assert_eq!(bobs["incoming"][0]["greeting"], "hi bob");
    let alices = ok_json(ad, &["friends"]).await?;
    assert_eq!(usernames(&alices["outgoing"], &["to", "username"]), [b]);
    let listed = ok(bd, &["friends", "list"]).await?;
    assert!(
        listed.contains(&format!("{a}\tincoming\thi bob")),
        "{listed}"
    );

    // Bob accepts by Alice's username (case does not matter): friends.
    let accepted = ok_json(bd, &["friends", "accept", &a.to_uppercase()]).await?;
    assert_eq!(accepted["user"]["username"], a);
    let alices = ok_json(ad, &["friends"]).await?;
    assert_eq!(usernames(&alices["friends"], &["user", "username"]), [b]);
    assert_eq!(alices["outgoing"], serde_json::json!([]));
    // Accepting what is not there: not found (4).
    assert_eq!(fails(bd, &["friends", "accept", a]).await?, Some(4));
    assert_eq!(
        fails(bd, &["friends", "add", "no_such_user_x"]).await?,
        Some(4)
    );

    // Carol asks Alice, who declines; a second decline finds nothing.
    ok(cd, &["friends", "add", &format!("@{a}")]).await?;
    let said = ok(ad, &["friends", "decline", c]).await?;
    assert!(said.contains("declined"), "{said}");
    assert_eq!(fails(ad, &["friends", "decline", c]).await?, Some(4));
    let carols = ok_json(cd, &["friends"]).await?;
    assert_eq!(carols["outgoing"], serde_json::json!([]));
    // And withdraws a request of her own.
    ok(cd, &["friends", "add", b]).await?;
    ok(cd, &["friends", "cancel", b]).await?;
    assert_eq!(
        ok_json(bd, &["friends"]).await?["incoming"],
        serde_json::json!([])
    );

    // Alice blocks Carol: Carol's request never reaches her (the server does
    // not tell Carol); unblocked, a new one does.
    ok(ad, &["friends", "block", c]).await?;
    ok(cd, &["friends", "add", a]).await?;
    assert_eq!(
        ok_json(ad, &["friends"]).await?["incoming"],
        serde_json::json!([])
    );
    assert_eq!(fails(ad, &["friends", "accept", c]).await?, Some(4));
    ok(cd, &["friends", "cancel", a]).await?;
    ok(ad, &["friends", "unblock", c]).await?;
    assert_eq!(fails(ad, &["friends", "unblock", c]).await?, Some(4));
    ok(cd, &["friends", "add", a]).await?;
    ok(ad, &["friends", "accept", c]).await?;

    // Alice ends the friendship with Bob: he can no longer message her.
    let said = ok(ad, &["friends", "remove", b]).await?;
    assert!(said.contains("no longer your friend"), "{said}");
    let bobs = ok_json(bd, &["friends"]).await?;
    assert_eq!(
        usernames(&bobs["friends"], &["user", "username"]),
        Vec::<String>::new()
    );
    assert_eq!(fails(ad, &["friends", "remove", b]).await?, Some(4));
    Ok(())
}

#[tokio::test]
async fn groups_from_the_cli() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let [alice, bob, carol] = [
        server.user("alice").await?,
        server.user("bob").await?,
        server.user("carol").await?,
    ];
    server.befriend(&alice, &bob).await?;
    server.befriend(&alice, &carol).await?;
    let (a, b, c) = (
        alice.user().username.as_str(),
        bob.user().username.as_str(),
        carol.user().username.as_str(),
    );
    let dirs = [tempfile::tempdir()?, tempfile::tempdir()?];
    for (dir, name) in dirs.iter().zip([a, b]) {
        let out = login(dir.path(), &server.url(), name).await?;
        assert!(out.status.success(), "{}", text(&out));
    }
    let [ad, bd] = [dirs[0].path(), dirs[1].path()];

    let group = ok_json(ad, &["groups", "create", "Night Owls", "--member", b]).await?;
    assert_eq!(group["name"], "Night Owls");
    assert_eq!(group["member_count"], 2);
    let id = format!("#{}", group["id"]);
    let members = ok_json(ad, &["groups", "members", "night owls"]).await?;
    assert_eq!(usernames(&members, &["user", "username"]), [a, b]);
    assert_eq!(members[0]["role"], "owner");
    let listed = ok(bd, &["groups", "members", &id]).await?;
    assert!(listed.contains(&format!("{a}\towner")), "{listed}");

    // Invite by username, rename, kick.
    let members = ok_json(ad, &["groups", "invite", &id, c]).await?;
    assert_eq!(members.as_array().map(Vec::len), Some(3));
    let renamed = ok_json(ad, &["groups", "rename", "Night Owls", "Early Birds"]).await?;
    assert_eq!(renamed["name"], "Early Birds");
    let bobs = ok_json(bd, &["groups"]).await?;
    assert_eq!(bobs[0]["name"], "Early Birds");
    // Bob is a plain member: renaming is refused (6).
    assert_eq!(
        fails(bd, &["groups", "rename", &id, "Mine"]).await?,
        Some(6)
    );
    ok(ad, &["groups", "kick", "early birds", c]).await?;
    let members = ok_json(ad, &["groups", "members", &id]).await?;
    assert_eq!(usernames(&members, &["user", "username"]), [a, b]);
    assert_eq!(fails(ad, &["groups", "kick", &id, c]).await?, Some(4));

    // Bob leaves; the group is gone from his list.
    ok(bd, &["groups", "leave", "Early Birds"]).await?;
    assert_eq!(ok_json(bd, &["groups"]).await?, serde_json::json!([]));
    assert_eq!(
        fails(bd, &["groups", "members", "Early Birds"]).await?,
        Some(4)
    );

    // Names that are not groups, or not friends, are refused before anything is sent.
    assert_eq!(fails(ad, &["groups", "members", b]).await?, Some(2));
    assert_eq!(
        fails(ad, &["groups", "members", "no such group"]).await?,
        Some(4)
    );
    assert_eq!(
        fails(ad, &["groups", "create", "X", "--member", "no_such_friend"]).await?,
        Some(4)
    );
    assert_eq!(fails(ad, &["groups", "create", "  "]).await?, Some(2));
    Ok(())
}

#[tokio::test]
async fn devices_from_the_cli() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let name = alice.user().username.clone();
    let laptop = tempfile::tempdir()?;
    let phone = tempfile::tempdir()?;
    for dir in [&laptop, &phone] {
        let out = login(dir.path(), &server.url(), &name).await?;
        assert!(out.status.success(), "{}", text(&out));
    }
    let devices = ok_json(laptop.path(), &["devices"]).await?;
    let list = devices.as_array().cloned().unwrap_or_default();
    // The testkit's own session, and the two CLI logins.
    assert_eq!(list.len(), 3, "{devices}");
    let current: Vec<_> = list.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1, "{devices}");
    let text_list = ok(laptop.path(), &["devices", "list"]).await?;
    assert!(
        text_list.lines().any(|l| l.ends_with("\tcurrent")),
        "{text_list}"
    );

    // The phone's device is the newest one that is not the laptop's.
    let phones = ok_json(phone.path(), &["devices"]).await?;
    let phone_id = phones
        .as_array()
        .and_then(|l| l.iter().find(|d| d["current"] == true))
        .map(|d| d["id"].to_string())
        .unwrap_or_default();
    ok(
        laptop.path(),
        &["devices", "revoke", &format!("#{phone_id}")],
    )
    .await?;
    assert_eq!(fails(phone.path(), &["friends"]).await?, Some(3));
    assert_eq!(
        fails(laptop.path(), &["devices", "revoke", &phone_id]).await?,
        Some(4)
    );
    // This device: refused (use logout), and still logged in.
    let laptop_id = current[0]["id"].to_string();
    assert_eq!(
        fails(laptop.path(), &["devices", "revoke", &laptop_id]).await?,
        Some(2)
    );
    ok(laptop.path(), &["devices"]).await?;
    Ok(())
}
