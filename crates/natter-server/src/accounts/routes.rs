//! HTTP routes of the accounts domain: extract, call one service method, convert.

use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get, post};
use natter_protocol::accounts::{
    self, ChangePasswordRequest, LoginRequest, Ok, RegisterRequest, UpdateProfileRequest,
};
use natter_protocol::contacts::{self as contact_routes, SearchUsersQuery};
use natter_protocol::{DeviceId, UserId};

use super::Caller;
use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::extract::{ClientAddress, Json, Path, Query};

type Reply<T> = ApiResult<axum::Json<T>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(accounts::REGISTER.path, post(register))
        .route(accounts::LOGIN.path, post(login))
        .route(accounts::LOGOUT.path, post(logout))
        .route(accounts::GET_ME.path, get(me).patch(update_me))
        .route(accounts::CHANGE_PASSWORD.path, post(change_password))
        .route(accounts::LIST_DEVICES.path, get(devices))
        .route(accounts::REVOKE_DEVICE.path, delete(revoke_device))
        .route(accounts::GET_USER.path, get(user))
        .route(contact_routes::SEARCH_USERS.path, get(search))
}

async fn register(
    address: ClientAddress,
    State(app): State<AppState>,
    Json(body): Json<RegisterRequest>,
) -> Reply<accounts::UserProfile> {
    Ok(axum::Json(app.accounts.register(body, address.0).await?))
}

async fn login(
    address: ClientAddress,
    State(app): State<AppState>,
    Json(body): Json<LoginRequest>,
) -> Reply<accounts::LoginResponse> {
    Ok(axum::Json(app.accounts.login(body, address.0).await?))
}

async fn logout(State(app): State<AppState>, caller: Caller) -> Reply<Ok> {
    app.accounts.logout(caller).await?;
    Ok(axum::Json(Ok::YES))
}

async fn me(State(app): State<AppState>, caller: Caller) -> Reply<accounts::UserProfile> {
    Ok(axum::Json(app.accounts.me(caller).await?))
}

async fn update_me(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<UpdateProfileRequest>,
) -> Reply<accounts::UserProfile> {
    Ok(axum::Json(app.accounts.update_me(caller, body).await?))
}

async fn change_password(
    address: ClientAddress,
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<ChangePasswordRequest>,
) -> Reply<Ok> {
    app.accounts
        .change_password(caller, body, address.0)
        .await?;
    Ok(axum::Json(Ok::YES))
}

async fn devices(State(app): State<AppState>, caller: Caller) -> Reply<accounts::DeviceList> {
    Ok(axum::Json(app.accounts.devices(caller).await?))
}

async fn revoke_device(
    State(app): State<AppState>,
    caller: Caller,
    Path(device): Path<i64>,
) -> Reply<Ok> {
    app.accounts.revoke_device(caller, DeviceId(device)).await?;
    Ok(axum::Json(Ok::YES))
}

async fn user(
    State(app): State<AppState>,
    caller: Caller,
    Path(user): Path<i64>,
) -> Reply<accounts::UserProfile> {
    Ok(axum::Json(app.accounts.user(caller, UserId(user)).await?))
}

async fn search(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<SearchUsersQuery>,
) -> Reply<contact_routes::UserSearchPage> {
    Ok(axum::Json(app.accounts.search(caller, query).await?))
}
