//! The OpenAPI document, generated from the protocol's endpoint table and the
//! wire types' schemas, so it cannot drift from what the server routes.

use axum::Json;
use natter_protocol::{ALL_ENDPOINTS, Endpoint};

pub const PATH: &str = "/api/v1/openapi.json";

pub async fn document() -> Json<serde_json::Value> {
    Json(build())
}

fn build() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for endpoint in ALL_ENDPOINTS {
        let entry = paths
            .entry(endpoint.path.to_owned())
            .or_insert_with(|| serde_json::json!({}));
        if let Some(map) = entry.as_object_mut() {
            map.insert(
                endpoint.method.as_str().to_ascii_lowercase(),
                operation(endpoint),
            );
        }
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Natter API",
            "version": natter_protocol::PROTOCOL_VERSION.to_string(),
            "description": "HTTP API of Natter. Real-time traffic uses the WebSocket at /api/v1/ws; see docs/PROTOCOL.md."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": { "ErrorBody": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string", "enum": natter_protocol::ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>() },
                "message": { "type": "string" },
                "retry_after_ms": { "type": "integer" }
            } } }
        }
    })
}

fn operation(endpoint: &Endpoint) -> serde_json::Value {
    let parameters: Vec<serde_json::Value> = endpoint
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| serde_json::json!({ "name": name, "in": "path", "required": true, "schema": { "type": "integer" } }))
        .collect();
    let error = serde_json::json!({ "description": "Error", "content": { "application/json": {
        "schema": { "$ref": "#/components/schemas/ErrorBody" } } } });
    let mut op = serde_json::json!({
        "parameters": parameters,
        "responses": { "200": { "description": "Success (see docs/PROTOCOL.md for the body)" }, "default": error },
    });
    if endpoint.auth
        && let Some(map) = op.as_object_mut()
    {
        map.insert("security".into(), serde_json::json!([{ "bearer": [] }]));
    }
    op
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_endpoint_is_in_the_document() {
        let doc = super::build();
        for endpoint in natter_protocol::ALL_ENDPOINTS {
            let method = endpoint.method.as_str().to_ascii_lowercase();
            assert!(
                doc["paths"][endpoint.path][&method].is_object(),
                "{} {}",
                method,
                endpoint.path
            );
        }
    }
}
