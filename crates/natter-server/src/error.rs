//! `ApiError`: the one place where errors meet the wire. Internal causes are
//! logged where they happen and never sent to clients.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use natter_protocol::{ErrorBody, ErrorCode, ErrorReason};
use natter_store::{Rejection, StoreError};

/// An error a client sees: a stable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_ms: Option<u64>,
    /// Which rule refused, where the code covers several.
    pub reason: Option<ErrorReason>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            retry_after_ms: None,
            reason: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "Not found.")
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message.clone(),
            retry_after_ms: self.retry_after_ms,
            reason: self.reason,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound => ApiError::not_found(),
            // A domain that can meet `Taken` says what was taken; here it is
            // only a cursor or a value the caller sent that cannot be used.
            StoreError::Rejected(Rejection::BadCursor) => {
                ApiError::invalid("That page cursor is not one this server gave out.")
            }
            StoreError::Rejected(Rejection::Taken) => {
                ApiError::invalid("That value is already taken.")
            }
            // The cause was logged by the store; the client learns only that it may retry.
            StoreError::Unavailable(_) => ApiError::new(
                ErrorCode::Unavailable,
                "Storage is unavailable; nothing was stored. Try again.",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after_ms;
        let code = self.code;
        let mut response = (status, axum::Json(self.body())).into_response();
        // The rest of a late body is never read: the connection cannot be reused.
        if code == ErrorCode::RequestTimeout {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(ms) = retry
            && let Ok(value) = HeaderValue::from_str(&ms.div_ceil(1000).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
