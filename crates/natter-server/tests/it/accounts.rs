use natter_client::ClientError;
use natter_protocol::ErrorCode;
use natter_protocol::accounts::{LoginRequest, RegisterRequest};
use natter_protocol::contacts::SearchUsersQuery;
use natter_testkit::{PASSWORD, TestServer, unique_name};

use crate::assert_code;

fn register(username: &str, password: &str) -> RegisterRequest {
    RegisterRequest {
        username: username.into(),
        password: password.into(),
        display_name: None,
    }
}

fn login(username: &str, password: &str) -> LoginRequest {
    LoginRequest {
        username: username.into(),
        password: password.into(),
        device: Some("laptop".into()),
    }
}

#[tokio::test]
async fn register_login_and_profiles() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = server.client();
    let name = unique_name("wei");
    let profile = client
        .register(&RegisterRequest {
            username: name.clone(),
            password: PASSWORD.into(),
            display_name: Some("  王伟 ".into()),
        })
        .await?;
    assert_eq!(profile.display_name, "王伟");
    // Usernames are unique without regard to case.
    let session = client.login(&login(&name.to_uppercase(), PASSWORD)).await?;
    assert_eq!(session.user().id, profile.id);
    assert_eq!(session.me().await?.username, name);

    let renamed = session.update_me("小王 🐼").await?;
    assert_eq!(renamed.display_name, "小王 🐼");
    let reset = session.update_me("").await?;
    assert_eq!(
        reset.display_name, name,
        "an empty display name falls back to the username"
    );

    let other = server.user("li").await?;
    assert_eq!(other.get_user(profile.id).await?.username, name);
    assert_code(
        other.get_user(natter_protocol::UserId(999_999)).await,
        ErrorCode::NotFound,
    );
    Ok(())
}

#[tokio::test]
async fn registration_refuses_bad_names_and_passwords() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = server.client();
    for bad in [
        "ab",
        "has space",
        "semi;colon",
        "<script>",
        &"x".repeat(33),
        "",
    ] {
        assert_code(
            client.register(&register(bad, PASSWORD)).await,
            ErrorCode::InvalidUsername,
        );
    }
    let name = unique_name("pw");
    assert_code(
        client.register(&register(&name, "short7!")).await,
        ErrorCode::WeakPassword,
    );
    assert_code(
        client.register(&register(&name, &"p".repeat(1025))).await,
        ErrorCode::WeakPassword,
    );

    // Taken, also in another case, in fullwidth letters, or with a Cyrillic look-alike.
    client.register(&register("alice", PASSWORD)).await?;
    for taken in ["alice", "ALICE", "ａｌｉｃｅ", "\u{0430}lice"] {
        assert_code(
            client.register(&register(taken, PASSWORD)).await,
            ErrorCode::UsernameTaken,
        );
    }
    // Chinese usernames are fine.
    client.register(&register("张伟明", PASSWORD)).await?;
    client.login(&login("张伟明", PASSWORD)).await?;
    Ok(())
}

#[tokio::test]
async fn long_passwords_are_never_truncated() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = server.client();
    let name = unique_name("long");
    // 1024 characters that do not repeat (a repetitive one would be refused as common).
    let password: String = (0..200)
        .map(|i| format!("{i:x}-natter-"))
        .collect::<String>()
        .chars()
        .take(1024)
        .collect();
    assert_eq!(password.chars().count(), 1024);
    client.register(&register(&name, &password)).await?;
    client.login(&login(&name, &password)).await?;
    // A prefix (what a truncating hash would compare) is wrong.
    assert_code(
        client.login(&login(&name, &password[..72])).await,
        ErrorCode::InvalidCredentials,
    );
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_look_the_same_for_known_and_unknown_users() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = server.client();
    let user = server.user("known").await?;
    let wrong_password = client
        .login(&login(&user.user().username, "not the password"))
        .await;
    let unknown_user = client.login(&login("nobody-here", PASSWORD)).await;
    let (
        Err(ClientError::Api {
            status: s1,
            code: c1,
            message: m1,
            ..
        }),
        Err(ClientError::Api {
            status: s2,
            code: c2,
            message: m2,
            ..
        }),
    ) = (wrong_password, unknown_user)
    else {
        panic!("both logins must fail");
    };
    assert_eq!((s1, c1, &m1), (s2, c2, &m2));
    assert_eq!(c1, ErrorCode::InvalidCredentials);
    Ok(())
}

#[tokio::test]
async fn devices_can_be_listed_and_revoked_and_logout_ends_the_session() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let phone = server.user("dev").await?;
    let laptop = server.login(&phone.user().username, "laptop").await?;
    let devices = laptop.devices().await?.devices;
    assert_eq!(devices.len(), 2);
    assert!(
        devices
            .iter()
            .any(|d| d.current && d.id == laptop.device_id() && d.name == "laptop")
    );
    assert!(
        devices
            .iter()
            .any(|d| !d.current && d.id == phone.device_id())
    );

    laptop.revoke_device(phone.device_id()).await?;
    assert_code(phone.me().await, ErrorCode::Unauthorized);
    assert_eq!(laptop.devices().await?.devices.len(), 1);
    // Someone else's device is not found, and stays.
    let stranger = server.user("stranger").await?;
    assert_code(
        stranger.revoke_device(laptop.device_id()).await,
        ErrorCode::NotFound,
    );

    laptop.logout().await?;
    assert_code(laptop.me().await, ErrorCode::Unauthorized);
    Ok(())
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_device() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let first = server.user("pwchange").await?;
    let name = first.user().username.clone();
    let second = server.login(&name, "second").await?;
    assert_code(
        first
            .change_password("wrong old password", "new password 1")
            .await,
        ErrorCode::InvalidCredentials,
    );
    assert_code(
        first.change_password(PASSWORD, "short").await,
        ErrorCode::WeakPassword,
    );
    first.change_password(PASSWORD, "new password 1").await?;
    first.me().await?;
    assert_code(second.me().await, ErrorCode::Unauthorized);
    let client = server.client();
    assert_code(
        client.login(&login(&name, PASSWORD)).await,
        ErrorCode::InvalidCredentials,
    );
    client.login(&login(&name, "new password 1")).await?;
    Ok(())
}

#[tokio::test]
async fn search_finds_users_by_prefix_of_username_or_display_name() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = server.client();
    for (name, display) in [
        ("zhangsan", "张三"),
        ("zhangwei", "Wei Zhang"),
        ("lisi", "李四"),
        ("zed", "Zhou"),
    ] {
        client
            .register(&RegisterRequest {
                username: name.into(),
                password: PASSWORD.into(),
                display_name: Some(display.into()),
            })
            .await?;
    }
    let me = server.user("searcher").await?;
    let query = |q: &str, limit: Option<u32>, offset: Option<u32>| SearchUsersQuery {
        q: q.into(),
        limit,
        offset,
    };
    let names = |page: &natter_protocol::contacts::UserSearchPage| {
        page.users
            .iter()
            .map(|u| u.username.clone())
            .collect::<Vec<_>>()
    };
    let page = me.search_users(&query("ZHANG", None, None)).await?;
    assert_eq!(names(&page), ["zhangsan", "zhangwei"]);
    let page = me.search_users(&query("张", None, None)).await?;
    assert_eq!(names(&page), ["zhangsan"]);
    let page = me.search_users(&query("zho", None, None)).await?;
    assert_eq!(names(&page), ["zed"], "display names match too");
    let first = me.search_users(&query("z", Some(2), None)).await?;
    assert_eq!(first.users.len(), 2);
    let second = me
        .search_users(&query("z", Some(2), first.next_offset))
        .await?;
    assert_eq!(names(&second), ["zhangwei"]);
    assert_code(
        me.search_users(&query("   ", None, None)).await,
        ErrorCode::InvalidRequest,
    );
    let far = me
        .search_users(&query("z", Some(100), Some(u32::MAX)))
        .await?;
    assert!(far.users.is_empty());
    Ok(())
}

#[tokio::test]
async fn device_ids_are_never_reused() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let first = server.user("first").await?;
    let gone = first.device_id();
    first.logout().await?;
    let second = server.user("second").await?;
    assert_ne!(second.device_id(), gone);
    assert!(second.device_id().0 > gone.0);
    Ok(())
}

#[tokio::test]
async fn common_passwords_and_the_username_are_refused_at_registration_and_change()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = server.client();
    let name = unique_name("common");
    for weak in ["password1", "12345678", "qwertyuiop", name.as_str()] {
        assert_code(
            client.register(&register(&name, weak)).await,
            ErrorCode::WeakPassword,
        );
    }
    let user = server.user("changer").await?;
    let own_name = format!("{}{}", user.user().username, user.user().username);
    for weak in ["iloveyou1", own_name.as_str()] {
        assert_code(
            user.change_password(PASSWORD, weak).await,
            ErrorCode::WeakPassword,
        );
    }
    // Nothing changed: the old password still works.
    server.login(&user.user().username, "again").await?;
    Ok(())
}

#[tokio::test]
async fn weak_passwords_are_refused_saying_which_rule_they_break() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/register", server.url());
    let refusal = |username: &str, password: &str| {
        let body = serde_json::json!({
            "username": username,
            "password": password,
            "display_name": "Alice Liddell"
        });
        let request = http.post(url.clone()).json(&body).send();
        async move {
            let response = request.await?;
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await?;
            anyhow::Ok((status, body))
        }
    };
    for (password, reason) in [
        ("short", "too_short"),
        ("Password1!", "common_password"),
        ("P@ssw0rd!", "common_password"),
        ("letmein123", "common_password"),
        ("alice12345", "personal_information"),
        ("alicealice1", "personal_information"),
        ("liddell2026", "personal_information"),
        ("aaaaaaaa1", "predictable"),
        ("Summer2026", "common_password"),
        ("hunter2hunter2", "predictable"),
    ] {
        let (status, body) = refusal("alice", password).await?;
        assert_eq!(status, 400, "{password}: {body}");
        assert_eq!(body["code"], "weak_password", "{password}: {body}");
        assert_eq!(body["reason"], reason, "{password}: {body}");
    }
    // The same rules hold for a new password, and the SDK hands the reason
    // on, so that an app can explain it.
    let user = server.user("changer").await?;
    let refused = user.change_password(PASSWORD, "Summer2026").await;
    assert_eq!(
        refused.as_ref().err().and_then(|e| e.reason()),
        Some(natter_protocol::ErrorReason::CommonPassword)
    );
    assert_code(refused, ErrorCode::WeakPassword);
    user.change_password(PASSWORD, "a much better passphrase")
        .await?;
    Ok(())
}
