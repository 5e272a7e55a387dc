//! The HTTP surface: every domain's routes, the WebSocket endpoint, health,
//! the OpenAPI document, body limits and security headers.

pub mod admission;
pub mod extract;
mod openapi;
pub mod serve;
mod web;

use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use natter_protocol::ErrorCode;
use natter_protocol::limits::HTTP_BODY_MAX_BYTES;
use natter_protocol::ws::WS_PATH;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::app::AppState;
use crate::error::ApiError;

/// The whole HTTP surface. `https` adds Strict-Transport-Security (only
/// meaningful, and only sent, when this server itself speaks TLS).
pub fn router(state: AppState, https: bool) -> Router {
    let mut headers = vec![
        // API answers hold private data: no cache may keep them. The web
        // client's files set their own Cache-Control.
        (header::CACHE_CONTROL, "no-store"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; \
             script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
             form-action 'self'; require-trusted-types-for 'script'",
        ),
    ];
    if https {
        headers.push((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    let mut router = Router::new()
        .merge(crate::accounts::routes::routes())
        .merge(crate::contacts::routes::routes())
        .merge(crate::conversations::routes::routes())
        .merge(crate::sync::routes())
        .route(WS_PATH, get(crate::gateway::upgrade))
        .route("/healthz", get(healthz))
        .route(openapi::PATH, get(openapi::document))
        .fallback(web::serve)
        .method_not_allowed_fallback(no_route)
        .layer(DefaultBodyLimit::max(HTTP_BODY_MAX_BYTES))
        .layer(axum::middleware::from_fn(run_to_completion))
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        // One debug line per request: method, path, status, latency. Neither
        // headers (the bearer token among them) nor the query string (search
        // terms, cursors) are part of it.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path()
                    )
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG)),
        );
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router.with_state(state)
}

/// Runs each request in a task of its own. A client that hangs up makes hyper
/// drop its handler; without this, a handler dropped between a commit and its
/// publish would store a message that nobody online is told about, or revoke a
/// device without closing its socket. A panicking handler becomes a 500 here.
async fn run_to_completion(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "request handler failed");
            ApiError::new(ErrorCode::Internal, "Internal error.").into_response()
        }
    }
}

/// Refuses a body whose declared length is over the limit before reading any
/// of it, and so before hyper answers `Expect: 100-continue` (which it does on
/// the first read): a client announcing 10 GB is told no at once and its
/// connection closed. Bodies without a length are cut by `DefaultBodyLimit`.
async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > HTTP_BODY_MAX_BYTES as u64) {
        let mut response =
            ApiError::new(ErrorCode::TooLarge, "The body is too large.").into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(request).await
}

/// Live and able to serve: the store answers and, in a cluster, the bus is
/// connected. 503 with the cause otherwise.
async fn healthz(State(app): State<AppState>) -> Response {
    match app.health().await {
        Ok(()) => Json(serde_json::json!({
            "status": "ok",
            "protocol": natter_protocol::PROTOCOL_VERSION,
        }))
        .into_response(),
        Err(cause) => unhealthy(&cause),
    }
}

fn unhealthy(cause: &str) -> Response {
    let body = Json(serde_json::json!({
        "status": "unavailable",
        "cause": cause,
        "protocol": natter_protocol::PROTOCOL_VERSION,
    }));
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

/// What a node serves while its backends cannot be opened yet: `/healthz`
/// says why, everything else is unavailable.
pub fn starting_router(cause: String) -> Router {
    let cause = std::sync::Arc::new(cause);
    let health = {
        let cause = cause.clone();
        move || {
            let cause = cause.clone();
            async move { unhealthy(&cause) }
        }
    };
    Router::new()
        .route("/healthz", get(health))
        .fallback(|| async {
            ApiError::new(
                ErrorCode::Unavailable,
                "The server is starting and cannot reach its storage yet. Try again soon.",
            )
        })
}

async fn no_route() -> ApiError {
    ApiError::new(ErrorCode::NoRoute, "No such route.")
}
