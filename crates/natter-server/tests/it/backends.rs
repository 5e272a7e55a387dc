//! Starting on a shared database or bus that cannot be reached: the node
//! stays up, says why on `/healthz`, refuses everything else as unavailable,
//! and keeps trying.

use natter_testkit::TestServer;

async fn health(server: &TestServer) -> anyhow::Result<(u16, serde_json::Value)> {
    let response = reqwest::get(format!("{}/healthz", server.url())).await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

#[tokio::test]
async fn an_unreachable_database_is_named_on_healthz_and_nothing_else_is_served()
-> anyhow::Result<()> {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let server = TestServer::start_with(|config| {
        config.database = Some("postgres://natter:secret-pw@127.0.0.1:1/natter".into());
    })
    .await?;
    let (status, body) = health(&server).await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    let cause = body["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("127.0.0.1:1"), "{cause}");
    assert!(!cause.contains("secret-pw"), "the password leaked: {cause}");
    let register = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/register", server.url()))
        .json(&serde_json::json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await?;
    assert_eq!(register.status().as_u16(), 503);
    let error: serde_json::Value = register.json().await?;
    assert_eq!(error["code"], "unavailable");
    // Still up and still saying so a while later: it keeps trying.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, _) = health(&server).await?;
    assert_eq!(status, 503);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_bus_is_named_on_healthz() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| {
        config.bus = Some("redis://127.0.0.1:1".into());
    })
    .await?;
    let (status, body) = health(&server).await?;
    assert_eq!(status, 503, "{body}");
    let cause = body["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("127.0.0.1:1"), "{cause}");
    Ok(())
}

#[tokio::test]
async fn the_embedded_default_is_healthy() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (status, body) = health(&server).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    Ok(())
}
