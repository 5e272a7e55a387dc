//! Look-alike usernames, and names or messages that hide or reorder text.

use natter_protocol::ErrorCode;
use natter_protocol::accounts::{LoginRequest, RegisterRequest};
use natter_protocol::conversations::UpdateGroupRequest;
use natter_testkit::{PASSWORD, TestServer};

use crate::assert_code;

fn register(username: &str) -> RegisterRequest {
    RegisterRequest {
        username: username.into(),
        password: PASSWORD.into(),
        display_name: None,
    }
}

fn login(username: &str) -> LoginRequest {
    LoginRequest {
        username: username.into(),
        password: PASSWORD.into(),
        device: None,
    }
}

#[tokio::test]
async fn look_alikes_of_a_taken_name_are_taken() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = server.client();
    for (first, look_alikes) in [
        (
            "alice",
            &["aIice", "al1ce", "ALICE", "ａｌｉｃｅ", "\u{0430}lice"][..],
        ),
        ("paypal", &["PayPaI", "paypaI", "PAYPAL"][..]),
        ("llama", &["IIama", "Ilama", "lIama"][..]),
        ("bob", &["b0b", "B0B"][..]),
    ] {
        client.register(&register(first)).await?;
        for name in look_alikes {
            assert_code(
                client.register(&register(name)).await,
                ErrorCode::UsernameTaken,
            );
        }
    }
    // Different names are still different.
    client.register(&register("alicia")).await?;
    client.register(&register("bab")).await?;
    Ok(())
}

/// A database written before look-alike keys were made from the name as
/// written (version 1 lowercased first): `alice` and `aIice` both exist there.
#[tokio::test]
async fn accounts_registered_under_the_old_keys_keep_working_and_block_new_look_alikes()
-> anyhow::Result<()> {
    if natter_testkit::postgresql_requested()? {
        eprintln!(
            "SQLite only: it writes the old keys into a SQLite store before the server starts (the PostgreSQL rekey has its own test in natter-store)"
        );
        return Ok(());
    }
    use natter_store::{AccountStore, NewUser, Store, sqlite::SqliteStore};
    use unicode_normalization::UnicodeNormalization;
    let data = tempfile::tempdir()?;
    let old_key = |text: &str| -> String {
        let folded: String = text.nfkc().flat_map(char::to_lowercase).collect();
        let skeleton: String = unicode_security::skeleton(&folded).collect();
        skeleton.nfkc().flat_map(char::to_lowercase).collect()
    };
    let hash = {
        use argon2::PasswordHasher;
        let salt = argon2::password_hash::SaltString::encode_b64(b"a fixed test salt")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        argon2::Argon2::default()
            .hash_password(PASSWORD.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string()
    };
    {
        let store = SqliteStore::open(data.path(), Default::default())?;
        for name in ["alice", "aIice", "carol"] {
            store
                .insert_user(NewUser {
                    username: name.into(),
                    username_key: old_key(name),
                    display_name: name.into(),
                    display_key: old_key(name),
                    password_hash: hash.clone(),
                    now: natter_protocol::Timestamp(1),
                })
                .await?;
        }
        store.shutdown();
    }
    let server = TestServer::start_with(|config| config.data = data.path().to_path_buf()).await?;
    let client = server.client();
    // Each of the two old accounts logs in by its own exact name.
    let alice = client.login(&login("alice")).await?;
    let twin = client.login(&login("aIice")).await?;
    assert_eq!(alice.user().username, "alice");
    assert_eq!(twin.user().username, "aIice");
    assert_ne!(alice.user().id, twin.user().id);
    client.login(&login("carol")).await?;
    // No further look-alike can register.
    for name in ["al1ce", "ALICE", "caroI"] {
        assert_code(
            client.register(&register(name)).await,
            ErrorCode::UsernameTaken,
        );
    }
    Ok(())
}

#[tokio::test]
async fn names_may_not_hide_or_reorder_text_and_messages_must_show_something() -> anyhow::Result<()>
{
    let server = TestServer::start().await?;
    let alice = server.user("bidi_alice").await?;
    let bob = server.user("bidi_bob").await?;
    let chat = server.befriend(&alice, &bob).await?;
    let hostile = [
        "invoice\u{202E}txt.exe",
        "\u{2067}admin",
        "\u{FEFF}admin",
        "zero\u{200B}width",
        "\u{200D}\u{200D}",
        "\u{3164}",
    ];
    for name in hostile {
        assert_code(alice.update_me(name).await, ErrorCode::InvalidRequest);
        assert_code(
            alice.update_friend(bob.user().id, Some(name)).await,
            ErrorCode::InvalidRequest,
        );
        assert_code(
            alice.create_group(name, &[bob.user().id]).await,
            ErrorCode::InvalidRequest,
        );
        assert_code(
            server
                .client()
                .register(&RegisterRequest {
                    username: natter_testkit::unique_name("bidi"),
                    password: PASSWORD.into(),
                    display_name: Some(name.into()),
                })
                .await,
            ErrorCode::InvalidRequest,
        );
        assert_code(
            server
                .client()
                .login(&LoginRequest {
                    username: alice.user().username.clone(),
                    password: PASSWORD.into(),
                    device: Some(name.into()),
                })
                .await,
            ErrorCode::InvalidRequest,
        );
    }
    let group = alice.create_group("fine 👨‍👩‍👧", &[bob.user().id]).await?;
    assert_code(
        alice
            .update_group(
                group.id,
                &UpdateGroupRequest {
                    name: Some("\u{202D}x".into()),
                    announcement: None,
                },
            )
            .await,
        ErrorCode::InvalidRequest,
    );
    // Emoji sequences, joiners inside words and right-to-left names are fine.
    assert_eq!(alice.update_me("علي ❤️").await?.display_name, "علي ❤️");
    // A message of nothing visible is refused; one with direction marks and
    // words is a message.
    for empty in ["\u{200B}", "\u{200D}\u{FEFF}", " \u{3164} ", "\u{200F}"] {
        assert_code(
            alice.send_text(chat, empty).await,
            ErrorCode::InvalidRequest,
        );
    }
    alice.send_text(chat, "\u{200F}שלום").await?;
    Ok(())
}
