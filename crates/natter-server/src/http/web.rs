//! The web client, served from the same binary.
//!
//! A release build embeds `web/dist` (built by `make web`); a debug build reads
//! it from disk. Before any web build, `/` says how to build the client, so that
//! `cargo build` alone always works.
//!
//! The build stores a brotli (`.br`) and a gzip (`.gz`) copy beside each text
//! file; a browser that accepts one gets it, with `Vary: Accept-Encoding` so
//! that caches keep the copies apart. Nothing is compressed per request.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use natter_protocol::ErrorCode;

use crate::error::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct WebAssets;

/// Serves a file of the client, `index.html` for app routes, or a JSON
/// `no_route` error under `/api/`.
pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    // Any case: `/API/V1/me` is an API path that does not exist, not a page.
    let api = path
        .get(..4)
        .is_some_and(|head| head.eq_ignore_ascii_case("api/"))
        || path.eq_ignore_ascii_case("api");
    if api {
        return ApiError::new(ErrorCode::NoRoute, "No such route.").into_response();
    }
    let accepted = Encodings::accepted(&headers);
    let wanted = if path.is_empty() { "index.html" } else { path };
    if let Some(file) = WebAssets::get(wanted) {
        return file_response(wanted, file, accepted);
    }
    // Client-side routes (no file extension) get the app shell.
    let is_route = !path.rsplit('/').next().unwrap_or_default().contains('.');
    match WebAssets::get("index.html") {
        Some(index) if is_route => file_response("index.html", index, accepted),
        Some(_) => ApiError::new(ErrorCode::NoRoute, "No such file.").into_response(),
        None if is_route => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
        None => ApiError::new(ErrorCode::NoRoute, "No such file.").into_response(),
    }
}

fn file_response(path: &str, file: rust_embed::EmbeddedFile, accepted: Encodings) -> Response {
    let mime = file.metadata.mimetype().to_owned();
    // Each copy is looked up once (a debug build reads it from disk): it
    // decides both what is sent and whether the answer varies.
    let brotli = WebAssets::get(&format!("{path}.br"));
    let gzip = WebAssets::get(&format!("{path}.gz"));
    let varies = brotli.is_some() || gzip.is_some();
    let compressed = match (brotli, gzip) {
        (Some(copy), _) if accepted.brotli => Some(("br", copy)),
        (_, Some(copy)) if accepted.gzip => Some(("gzip", copy)),
        _ => None,
    };
    let mut response = match compressed {
        Some((coding, copy)) => {
            let mut response = Response::new(Body::from(copy.data.into_owned()));
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
            response
        }
        None => Response::new(Body::from(file.data.into_owned())),
    };
    if varies {
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
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

/// The content codings a request accepts, of those the build stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Encodings {
    brotli: bool,
    gzip: bool,
}

impl Encodings {
    /// Reads every `Accept-Encoding` header (RFC 9110 §12.5.3): a coding is
    /// accepted when listed, or covered by `*`, with a q-value above zero.
    fn accepted(headers: &HeaderMap) -> Self {
        let mut listed: Vec<(String, bool)> = Vec::new();
        for value in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
                if coding.is_empty() {
                    continue;
                }
                let acceptable = parts
                    .filter_map(|param| {
                        let (name, value) = param.split_once('=')?;
                        name.trim().eq_ignore_ascii_case("q").then(|| value.trim())
                    })
                    .next_back()
                    .is_none_or(|q| q.parse::<f32>().is_ok_and(|q| q > 0.0));
                listed.push((coding, acceptable));
            }
        }
        let find = |name: &str| {
            listed
                .iter()
                .find(|(coding, _)| coding == name)
                .map(|(_, ok)| *ok)
        };
        let any = find("*").unwrap_or(false);
        Self {
            brotli: find("br").unwrap_or(any),
            gzip: find("gzip").or_else(|| find("x-gzip")).unwrap_or(any),
        }
    }
}

const NOT_BUILT: &str = concat!(
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Natter</title></head>",
    "<body><h1>Natter is running</h1>",
    "<p>The web client has not been built into this binary. Run <code>make run</code> ",
    "(it builds the client, then the server), or <code>make web</code> and rebuild.</p>",
    "<p>The API lives under <code>/api/v1/</code>; its description is at ",
    "<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p></body></html>"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(values: &[&str]) -> Encodings {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).expect("header"),
            );
        }
        Encodings::accepted(&headers)
    }

    #[test]
    fn browsers_get_brotli_and_gzip() {
        let both = Encodings {
            brotli: true,
            gzip: true,
        };
        assert_eq!(accepted(&["gzip, deflate, br, zstd"]), both);
        assert_eq!(accepted(&["gzip", "br"]), both);
        assert_eq!(accepted(&["BR;q=0.5, GZip;q=1"]), both);
    }

    #[test]
    fn nothing_listed_means_identity() {
        assert_eq!(accepted(&[]), Encodings::default());
        assert_eq!(accepted(&["identity"]), Encodings::default());
        assert_eq!(accepted(&[""]), Encodings::default());
    }

    #[test]
    fn a_zero_q_value_refuses_a_coding() {
        let gzip_only = Encodings {
            brotli: false,
            gzip: true,
        };
        assert_eq!(accepted(&["br;q=0, gzip"]), gzip_only);
        assert_eq!(accepted(&["*;q=0.1, br;q=0"]), gzip_only);
        assert_eq!(accepted(&["gzip;q=0.0, br;q=0"]), Encodings::default());
        assert_eq!(accepted(&["gzip;q=nonsense"]), Encodings::default());
    }

    #[test]
    fn a_wildcard_covers_codings_not_named() {
        assert_eq!(
            accepted(&["*"]),
            Encodings {
                brotli: true,
                gzip: true
            }
        );
        assert_eq!(
            accepted(&["x-gzip"]),
            Encodings {
                brotli: false,
                gzip: true
            }
        );
    }
}
