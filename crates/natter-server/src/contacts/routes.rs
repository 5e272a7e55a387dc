//! HTTP routes of the contacts domain.

use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get, patch, post, put};
use natter_protocol::accounts::Ok;
use natter_protocol::contacts::{
    self, BlockList, Friend, FriendList, FriendRequestList, FriendRequestOutcome,
    SendFriendRequest, UpdateFriendRequest,
};
use natter_protocol::conversations::PageQuery;
use natter_protocol::{FriendRequestId, UserId};

use crate::accounts::Caller;
use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::extract::{Json, Path, Query};

type Reply<T> = ApiResult<axum::Json<T>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(contacts::LIST_FRIENDS.path, get(friends))
        .route(
            contacts::UPDATE_FRIEND.path,
            patch(update_friend).delete(remove_friend),
        )
        .route(
            contacts::LIST_FRIEND_REQUESTS.path,
            get(requests).post(send_request),
        )
        .route(contacts::ACCEPT_FRIEND_REQUEST.path, post(accept))
        .route(contacts::DECLINE_FRIEND_REQUEST.path, post(decline))
        .route(contacts::CANCEL_FRIEND_REQUEST.path, delete(cancel))
        .route(contacts::LIST_BLOCKS.path, get(blocks))
        .route(contacts::BLOCK_USER.path, put(block).delete(unblock))
}

async fn friends(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> Reply<FriendList> {
    Ok(axum::Json(app.contacts.friends(caller, query).await?))
}

async fn update_friend(
    State(app): State<AppState>,
    caller: Caller,
    Path(user): Path<i64>,
    Json(body): Json<UpdateFriendRequest>,
) -> Reply<Ok> {
    app.contacts
        .set_remark(caller, UserId(user), body.remark)
        .await?;
    Ok(axum::Json(Ok::YES))
}

async fn remove_friend(
    State(app): State<AppState>,
    caller: Caller,
    Path(user): Path<i64>,
) -> Reply<Ok> {
    app.contacts.remove(caller, UserId(user)).await?;
    Ok(axum::Json(Ok::YES))
}

async fn requests(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> Reply<FriendRequestList> {
    Ok(axum::Json(app.contacts.requests(caller, query).await?))
}

async fn send_request(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<SendFriendRequest>,
) -> Reply<FriendRequestOutcome> {
    Ok(axum::Json(
        app.contacts
            .send_request(caller, body.user_id, body.greeting)
            .await?,
    ))
}

async fn accept(State(app): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Reply<Friend> {
    Ok(axum::Json(
        app.contacts.accept(caller, FriendRequestId(id)).await?,
    ))
}

async fn decline(State(app): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Reply<Ok> {
    app.contacts.decline(caller, FriendRequestId(id)).await?;
    Ok(axum::Json(Ok::YES))
}

async fn cancel(State(app): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Reply<Ok> {
    app.contacts.cancel(caller, FriendRequestId(id)).await?;
    Ok(axum::Json(Ok::YES))
}

async fn blocks(State(app): State<AppState>, caller: Caller) -> Reply<BlockList> {
    Ok(axum::Json(app.contacts.blocks(caller).await?))
}

async fn block(State(app): State<AppState>, caller: Caller, Path(user): Path<i64>) -> Reply<Ok> {
    app.contacts.block(caller, UserId(user)).await?;
    Ok(axum::Json(Ok::YES))
}

async fn unblock(State(app): State<AppState>, caller: Caller, Path(user): Path<i64>) -> Reply<Ok> {
    app.contacts.unblock(caller, UserId(user)).await?;
    Ok(axum::Json(Ok::YES))
}
