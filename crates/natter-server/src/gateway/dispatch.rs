//! Turns one client frame into one service call and its reply frame. Every
//! frame reaches the same service methods as the HTTP routes.

use axum::extract::ws::Utf8Bytes;
use natter_protocol::ErrorCode;
use natter_protocol::accounts::Ok;
use natter_protocol::ws::{ClientFrame, ClientRequest, ServerFrame};

use crate::accounts::Caller;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

/// Parses a frame: the request and its id, or the error frame to send back.
pub fn parse(text: &str) -> Result<ClientFrame, Utf8Bytes> {
    natter_protocol::ws::decode_client_frame(text)
        .map_err(|error| error_frame(error.id, &ApiError::new(error.code, error.message)))
}

/// Runs an authenticated client's parsed frame. `None` when there is nothing
/// to send back.
pub async fn execute(app: AppState, caller: Caller, frame: ClientFrame) -> Option<Utf8Bytes> {
    let id = frame.id;
    if frame.request == ClientRequest::Ping {
        return Some(pong(id));
    }
    let result = run(&app, caller, frame.request).await;
    match (result, id) {
        (Ok(Some(json)), Some(id)) => Some(reply_frame(id, &json)),
        (Ok(_), _) => None,
        (Err(error), id) => Some(error_frame(id, &error)),
    }
}

pub fn pong(id: Option<u64>) -> Utf8Bytes {
    let pong = serde_json::to_string(&ServerFrame::Pong { id })
        .unwrap_or_else(|_| "{\"type\":\"pong\"}".into());
    Utf8Bytes::from(pong)
}

/// The JSON result of a request.
async fn run(app: &AppState, caller: Caller, request: ClientRequest) -> ApiResult<Option<String>> {
    let json = match request {
        ClientRequest::Auth { .. } => return Err(ApiError::invalid("Already authenticated.")),
        ClientRequest::Ping => return Ok(None),
        ClientRequest::Send {
            conversation_id,
            message,
        } => to_json(
            &app.conversations
                .send(caller, conversation_id, message)
                .await?,
        )?,
        ClientRequest::Read {
            conversation_id,
            seq,
        } => to_json(
            &app.conversations
                .mark_read(caller, conversation_id, seq)
                .await?,
        )?,
        ClientRequest::Typing { conversation_id } => {
            app.conversations.typing(caller, conversation_id).await?;
            to_json(&Ok::YES)?
        }
        ClientRequest::Sync { since, resume } => {
            to_json(&app.sync.sync(caller, since, resume).await?)?
        }
        ClientRequest::History {
            conversation_id,
            query,
        } => to_json(
            &app.conversations
                .history(caller, conversation_id, query)
                .await?,
        )?,
    };
    Ok(Some(json))
}

fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(|error| {
        tracing::error!(%error, "cannot serialize a reply");
        ApiError::new(ErrorCode::Internal, "Internal error.")
    })
}

/// `{"type":"reply","id":…,"result":…}` built around an already-serialized result.
pub fn reply_frame(id: u64, result_json: &str) -> Utf8Bytes {
    Utf8Bytes::from(format!(
        "{{\"type\":\"reply\",\"id\":{id},\"result\":{result_json}}}"
    ))
}

pub fn error_frame(id: Option<u64>, error: &ApiError) -> Utf8Bytes {
    let frame = ServerFrame::Error {
        id,
        code: error.code,
        message: error.message.clone(),
        retry_after_ms: error.retry_after_ms,
        reason: error.reason,
    };
    Utf8Bytes::from(serde_json::to_string(&frame).unwrap_or_else(|_| {
        "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"Internal error.\"}".to_owned()
    }))
}

#[cfg(test)]
mod tests {
    use natter_protocol::ws::ClientRequest;

    #[test]
    fn a_frame_type_must_be_a_known_string() {
        for text in [
            r#"{"type":5}"#,
            r#"{"type":null}"#,
            r#"{"type":"Sync"}"#,
            r#"{"id":1}"#,
            "[]",
        ] {
            assert!(super::parse(text).is_err(), "{text} was accepted");
        }
        let frame = super::parse(r#"{"type":"sync","id":3}"#).map_err(|e| e.to_string());
        assert!(
            matches!(frame, Ok(f) if f.id == Some(3) && matches!(f.request, ClientRequest::Sync { .. }))
        );
    }
}
