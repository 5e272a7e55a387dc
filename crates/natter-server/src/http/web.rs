//! The web client, served from the same binary.
//!
//! A release build embeds `web/dist` (built by `make web`); a debug build reads
//! it from disk. Before any web build, `/` says how to build the client, so that
//! `cargo build` alone always works.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use natter_protocol::ErrorCode;

use crate::error::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct WebAssets;

/// Serves a file of the client, `index.html` for app routes, or a JSON
/// `no_route` error under `/api/`.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    // Any case: `/API/V1/me` is an API path that does not exist, not a page.
    let api = path
        .get(..4)
        .is_some_and(|head| head.eq_ignore_ascii_case("api/"))
        || path.eq_ignore_ascii_case("api");
    if api {
        return ApiError::new(ErrorCode::NoRoute, "No such route.").into_response();
    }
    let wanted = if path.is_empty() { "index.html" } else { path };
    if let Some(file) = WebAssets::get(wanted) {
        return file_response(wanted, file);
    }
    // Client-side routes (no file extension) get the app shell.
    let is_route = !path.rsplit('/').next().unwrap_or_default().contains('.');
    match WebAssets::get("index.html") {
        Some(index) if is_route => file_response("index.html", index),
        Some(_) => ApiError::new(ErrorCode::NoRoute, "No such file.").into_response(),
        None if is_route => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
        None => ApiError::new(ErrorCode::NoRoute, "No such file.").into_response(),
    }
}

fn file_response(path: &str, file: rust_embed::EmbeddedFile) -> Response {
    let mime = file.metadata.mimetype().to_owned();
    let mut response = Response::new(Body::from(file.data.into_owned()));
    if let Ok(value) = HeaderValue::from_str(&mime) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    // Vite puts a content hash in every file name under assets/: cache those forever.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

const NOT_BUILT: &str = concat!(
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Natter</title></head>",
    "<body><h1>Natter is running</h1>",
    "<p>The web client has not been built into this binary. Run <code>make run</code> ",
    "(it builds the client, then the server), or <code>make web</code> and rebuild.</p>",
    "<p>The API lives under <code>/api/v1/</code>; its description is at ",
    "<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p></body></html>"
);
