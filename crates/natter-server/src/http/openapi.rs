//! The OpenAPI document, generated from the protocol's endpoint table and the
//! wire types' schemas (utoipa), so it cannot drift from what the server routes.

use axum::Json;
use natter_protocol::accounts::*;
use natter_protocol::contacts::*;
use natter_protocol::conversations::*;
use natter_protocol::sync::*;
use natter_protocol::{ALL_ENDPOINTS, Endpoint, ErrorBody};
use serde_json::{Value, json};

pub const PATH: &str = "/api/v1/openapi.json";

pub async fn document() -> Json<Value> {
    Json(build())
}

/// Request (body or query) and response schema of each endpoint, by name.
fn bodies(endpoint: &Endpoint) -> Option<(Option<&'static str>, &'static str)> {
    let table: &[(Endpoint, Option<&str>, &str)] = &[
        (REGISTER, Some("RegisterRequest"), "UserProfile"),
        (LOGIN, Some("LoginRequest"), "LoginResponse"),
        (LOGOUT, None, "Ok"),
        (GET_ME, None, "UserProfile"),
        (UPDATE_ME, Some("UpdateProfileRequest"), "UserProfile"),
        (CHANGE_PASSWORD, Some("ChangePasswordRequest"), "Ok"),
        (LIST_DEVICES, None, "DeviceList"),
        (REVOKE_DEVICE, None, "Ok"),
        (GET_USER, None, "UserProfile"),
        (SEARCH_USERS, Some("SearchUsersQuery"), "UserSearchPage"),
        (LIST_FRIENDS, Some("PageQuery"), "FriendList"),
        (UPDATE_FRIEND, Some("UpdateFriendRequest"), "Ok"),
        (REMOVE_FRIEND, None, "Ok"),
        (LIST_FRIEND_REQUESTS, Some("PageQuery"), "FriendRequestList"),
        (
            SEND_FRIEND_REQUEST,
            Some("SendFriendRequest"),
            "FriendRequestOutcome",
        ),
        (ACCEPT_FRIEND_REQUEST, None, "Friend"),
        (DECLINE_FRIEND_REQUEST, None, "Ok"),
        (CANCEL_FRIEND_REQUEST, None, "Ok"),
        (LIST_BLOCKS, None, "BlockList"),
        (BLOCK_USER, None, "Ok"),
        (UNBLOCK_USER, None, "Ok"),
        (LIST_CONVERSATIONS, Some("PageQuery"), "ConversationList"),
        (GET_CONVERSATION, None, "ConversationSummary"),
        (
            OPEN_DIRECT,
            Some("OpenDirectRequest"),
            "ConversationSummary",
        ),
        (LIST_MESSAGES, Some("HistoryQuery"), "MessagePage"),
        (
            SEND_MESSAGE,
            Some("SendMessageRequest"),
            "SendMessageResponse",
        ),
        (MARK_READ, Some("MarkReadRequest"), "ReadPosition"),
        (LIST_MEMBERS, Some("PageQuery"), "MemberList"),
        (
            CREATE_GROUP,
            Some("CreateGroupRequest"),
            "ConversationSummary",
        ),
        (UPDATE_GROUP, Some("UpdateGroupRequest"), "Ok"),
        (INVITE_MEMBERS, Some("InviteRequest"), "MemberList"),
        (REMOVE_MEMBER, None, "Ok"),
        (SET_MEMBER_ROLE, Some("SetRoleRequest"), "Ok"),
        (TRANSFER_OWNERSHIP, Some("TransferRequest"), "Ok"),
        (SYNC, Some("SyncQuery"), "SyncResponse"),
    ];
    table
        .iter()
        .find(|(e, _, _)| e == endpoint)
        .map(|(_, request, response)| (*request, *response))
}

fn components() -> Value {
    let mut builder = utoipa::openapi::ComponentsBuilder::new();
    // Each type with every schema it refers to (ids, enums, nested objects):
    // `schema_from` alone registers the type, and its `$ref`s would dangle.
    macro_rules! register {
        ($($t:ty),* $(,)?) => {$(
            builder = builder.schema_from::<$t>();
            let mut referenced = Vec::new();
            <$t as utoipa::ToSchema>::schemas(&mut referenced);
            builder = builder.schemas_from_iter(referenced);
        )*};
    }
    register!(
        ErrorBody,
        RegisterRequest,
        LoginRequest,
        LoginResponse,
        UserProfile,
        UpdateProfileRequest,
        ChangePasswordRequest,
        Device,
        DeviceList,
        Ok,
        SearchUsersQuery,
        UserSearchPage,
        FriendRequest,
        SendFriendRequest,
        FriendRequestOutcome,
        FriendRequestList,
        Friend,
        FriendList,
        UpdateFriendRequest,
        BlockList,
        ConversationSummary,
        ConversationList,
        PageQuery,
        OpenDirectRequest,
        Message,
        MessageContent,
        MediaRef,
        SystemEvent,
        SendMessageRequest,
        SendMessageResponse,
        HistoryQuery,
        MessagePage,
        MarkReadRequest,
        ReadPosition,
        Member,
        MemberList,
        CreateGroupRequest,
        UpdateGroupRequest,
        InviteRequest,
        SetRoleRequest,
        TransferRequest,
        SyncQuery,
        SyncResponse,
        UserEvent,
        UserChange,
    );
    let mut value = serde_json::to_value(builder.build()).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "securitySchemes".into(),
            json!({ "bearer": { "type": "http", "scheme": "bearer" } }),
        );
    }
    value
}

fn build() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(natter_protocol::ws::WS_PATH.into(), websocket_path());
    paths.insert(
        "/healthz".into(),
        json!({ "get": {
            "summary": "Health: the process answers, its store answers and (in a cluster) its bus is connected.",
            "responses": {
                "200": { "description": "Healthy", "content": { "application/json": {
                    "schema": { "type": "object", "properties": {
                        "status": { "type": "string", "enum": ["ok"] },
                        "protocol": { "type": "integer" } } } } } },
                "503": { "description": "Up, but cannot serve: the cause says why (a database or bus that cannot be reached)", "content": { "application/json": {
                    "schema": { "type": "object", "properties": {
                        "status": { "type": "string", "enum": ["unavailable"] },
                        "cause": { "type": "string" },
                        "protocol": { "type": "integer" } } } } } }
            }
        } }),
    );
    paths.insert(
        PATH.into(),
        json!({ "get": {
            "summary": "This document.",
            "responses": { "200": { "description": "The OpenAPI document", "content": { "application/json": { "schema": { "type": "object" } } } } }
        } }),
    );
    for endpoint in ALL_ENDPOINTS {
        let entry = paths
            .entry(endpoint.path.to_owned())
            .or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            map.insert(
                endpoint.method.as_str().to_ascii_lowercase(),
                operation(endpoint),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Natter API",
            "version": natter_protocol::PROTOCOL_VERSION.to_string(),
            "description": "HTTP API of Natter. Real-time traffic uses the WebSocket at /api/v1/ws; see docs/PROTOCOL.md."
        },
        "paths": paths,
        "components": components(),
    })
}

/// The WebSocket endpoint: an HTTP GET that upgrades. Its frames are not
/// HTTP and are described in docs/PROTOCOL.md §7.
fn websocket_path() -> Value {
    json!({ "get": {
        "summary": "Opens the WebSocket for real-time traffic (docs/PROTOCOL.md section 7). Authentication is the first frame, never the URL.",
        "parameters": [
            { "name": "Upgrade", "in": "header", "required": true, "schema": { "type": "string", "enum": ["websocket"] } },
            { "name": "Sec-WebSocket-Key", "in": "header", "required": true, "schema": { "type": "string" } },
            { "name": "Sec-WebSocket-Version", "in": "header", "required": true, "schema": { "type": "string", "enum": ["13"] } }
        ],
        "responses": {
            "101": { "description": "Switching Protocols: the connection now speaks the WebSocket frames of the protocol." },
            "default": { "description": "Refused before the upgrade (not a WebSocket request, foreign origin, rate limited, server busy)", "content": { "application/json": { "schema": schema_ref("ErrorBody") } } }
        }
    } })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn operation(endpoint: &Endpoint) -> Value {
    let (request, response) = bodies(endpoint).unwrap_or((None, "Ok"));
    let mut parameters: Vec<Value> = endpoint
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "integer" } }))
        .collect();
    let is_get = endpoint.method == natter_protocol::Method::Get;
    if let (true, Some(query)) = (is_get, request) {
        parameters.push(json!({ "name": "query", "in": "query", "style": "form", "explode": true, "schema": schema_ref(query) }));
    }
    let mut op = json!({
        "parameters": parameters,
        "responses": {
            "200": { "description": "Success", "content": { "application/json": { "schema": schema_ref(response) } } },
            "default": { "description": "Error", "content": { "application/json": { "schema": schema_ref("ErrorBody") } } },
        },
    });
    if let Some(map) = op.as_object_mut() {
        if let (false, Some(body)) = (is_get, request) {
            map.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": { "schema": schema_ref(body) } } }),
            );
        }
        if endpoint.auth {
            map.insert("security".into(), json!([{ "bearer": [] }]));
        }
    }
    op
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_endpoint_is_described_with_schemas_that_exist() {
        let doc = super::build();
        let schemas = &doc["components"]["schemas"];
        for endpoint in natter_protocol::ALL_ENDPOINTS {
            let method = endpoint.method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][endpoint.path][&method];
            assert!(op.is_object(), "{} {}", method, endpoint.path);
            let (request, _) =
                super::bodies(endpoint).expect("every endpoint has a row in the bodies table");
            if let Some(request) = request {
                assert!(schemas[request].is_object(), "missing schema {request}");
            }
            let reference = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .expect("a response schema");
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(schemas[name].is_object(), "missing schema {name}");
        }
        assert!(schemas["ErrorBody"].is_object());
        assert!(doc["paths"][natter_protocol::ws::WS_PATH]["get"].is_object());
    }

    /// Every `$ref` anywhere in the document names a schema it defines.
    #[test]
    fn no_reference_dangles() {
        fn walk(value: &serde_json::Value, found: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                        found.push(target.clone());
                    }
                    map.values().for_each(|v| walk(v, found));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
                _ => {}
            }
        }
        let doc = super::build();
        let mut references = Vec::new();
        walk(&doc, &mut references);
        assert!(references.len() > 50, "{}", references.len());
        for target in references {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {target}"));
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{target} dangles"
            );
        }
    }
}
