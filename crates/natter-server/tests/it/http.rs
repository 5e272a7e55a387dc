use natter_testkit::TestServer;
use serde_json::Value;

#[tokio::test]
async fn health_openapi_security_headers_and_unknown_routes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let http = reqwest::Client::new();
    let health: Value = http
        .get(format!("{}/healthz", server.url()))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(health["status"], "ok");

    let doc: Value = http
        .get(format!("{}/api/v1/openapi.json", server.url()))
        .send()
        .await?
        .json()
        .await?;
    for endpoint in natter_protocol::ALL_ENDPOINTS {
        let method = endpoint.method.as_str().to_ascii_lowercase();
        assert!(
            doc["paths"][endpoint.path][&method].is_object(),
            "{method} {}",
            endpoint.path
        );
    }

    let page = http.get(format!("{}/", server.url())).send().await?;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert!(headers["content-type"].to_str()?.starts_with("text/html"));
    let csp = headers["content-security-policy"].to_str()?;
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
    assert!(
        headers.get("strict-transport-security").is_none(),
        "HSTS over plain HTTP"
    );
    let api = http
        .get(format!("{}/api/v1/me", server.url()))
        .send()
        .await?;
    assert_eq!(api.headers()["cache-control"], "no-store");

    let missing = http
        .get(format!("{}/api/v1/no/such/thing", server.url()))
        .send()
        .await?;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await?;
    assert_eq!(body["code"], "no_route");
    let wrong_method = http
        .put(format!("{}/api/v1/auth/login", server.url()))
        .send()
        .await?;
    assert_eq!(wrong_method.status(), 404);
    Ok(())
}

#[tokio::test]
async fn malformed_http_bodies_get_typed_errors() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/register", server.url());
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            http.post(&url)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "invalid_json",
        ),
        (http.post(&url).body("{}"), 400, "invalid_json"),
        (
            http.post(&url)
                .header("content-type", "application/json")
                .body("{\"username\": 7}"),
            400,
            "invalid_request",
        ),
        (
            http.post(&url)
                .header("content-type", "application/json")
                .body(vec![0xff, 0xfe, 0x00]),
            400,
            "invalid_json",
        ),
        (
            http.post(&url)
                .header("content-type", "application/json")
                .body(format!("{{\"username\":\"{}\"}}", "a".repeat(100_000))),
            413,
            "too_large",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await?;
        assert_eq!(response.status(), status);
        let body: Value = response.json().await?;
        assert_eq!(body["code"], code);
    }
    let search = http
        .get(format!(
            "{}/api/v1/users?q=a&limit=notanumber",
            server.url()
        ))
        .bearer_auth(server.user("x").await?.token())
        .send()
        .await?;
    assert_eq!(search.status(), 400);
    let body: Value = search.json().await?;
    assert_eq!(body["code"], "invalid_request");
    Ok(())
}

#[tokio::test]
async fn api_paths_in_any_case_answer_json_never_the_web_page() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    for path in [
        "/API/V1/me",
        "/Api/v1/conversations",
        "/api/v1/nothing/here",
        "/API",
        "/api/v2/x",
    ] {
        let response = reqwest::get(format!("{}{path}", server.url())).await?;
        assert_eq!(response.status(), 404, "{path}");
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("application/json"), "{path}: {kind}");
        let body: serde_json::Value = response.json().await?;
        assert_eq!(body["code"], "no_route", "{path}");
    }
    Ok(())
}

/// The document the server serves is valid OpenAPI, checked by a real
/// validator (`openapi-spec-validator`, installed by `scripts/test.sh`, which
/// names it in `NATTER_OPENAPI_VALIDATOR`), and it names every route.
#[tokio::test]
async fn the_served_openapi_document_is_valid_and_complete() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", server.url()))
        .await?
        .json()
        .await?;
    let paths = doc["paths"]
        .as_object()
        .ok_or_else(|| anyhow::anyhow!("no paths"))?;
    for endpoint in natter_protocol::ALL_ENDPOINTS {
        let method = endpoint.method.as_str().to_ascii_lowercase();
        assert!(
            paths
                .get(endpoint.path)
                .is_some_and(|p| p[&method].is_object()),
            "{method} {} is missing",
            endpoint.path
        );
    }
    for path in [
        natter_protocol::ws::WS_PATH,
        "/healthz",
        "/api/v1/openapi.json",
    ] {
        assert!(paths[path]["get"].is_object(), "{path} is missing");
    }
    let Some(validator) = std::env::var_os("NATTER_OPENAPI_VALIDATOR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must validate the document: run the tests through scripts/test.sh"
        );
        eprintln!(
            "NOT RUN: the validator step (set NATTER_OPENAPI_VALIDATOR, as scripts/test.sh does)"
        );
        return Ok(());
    };
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), serde_json::to_vec(&doc)?)?;
    let output = std::process::Command::new(validator)
        .arg(file.path())
        .output()?;
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
