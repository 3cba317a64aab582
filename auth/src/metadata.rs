//! RFC 9728 protected-resource metadata and RFC 8414 authorization-server
//! metadata.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::AuthServer;

fn cacheable(body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `GET /.well-known/oauth-protected-resource[/{path}]`.
pub(crate) async fn protected_resource(State(server): State<Arc<AuthServer>>) -> Response {
    let config = server.config();
    cacheable(serde_json::json!({
        "resource": config.resource.as_str(),
        "authorization_servers": [config.issuer()],
        "scopes_supported": config.scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": "gojira-mcp",
    }))
}

/// `GET /.well-known/oauth-authorization-server`.
pub(crate) async fn authorization_server(State(server): State<Arc<AuthServer>>) -> Response {
    let config = server.config();
    let issuer = config.issuer();
    cacheable(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "scopes_supported": config.scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
    }))
}
