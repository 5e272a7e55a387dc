//! HTTP routes of the conversations domain.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch, post, put};
use natter_protocol::accounts::Ok;
use natter_protocol::conversations::{
    self as api, ConversationList, ConversationSummary, CreateGroupRequest, HistoryQuery,
    InviteRequest, MarkReadRequest, MemberList, MessagePage, OpenDirectRequest, PageQuery,
    ReadPosition, SendMessageRequest, SendMessageResponse, SetRoleRequest, TransferRequest,
    UpdateGroupRequest,
};
use natter_protocol::{ConversationId, UserId};

use crate::accounts::Caller;
use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::extract::{Json, Path, Query};

type Reply<T> = ApiResult<axum::Json<T>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api::LIST_CONVERSATIONS.path, get(list))
        .route(api::GET_CONVERSATION.path, get(conversation))
        .route(api::OPEN_DIRECT.path, post(open_direct))
        .route(api::LIST_MESSAGES.path, get(history).post(send))
        .route(api::MARK_READ.path, post(mark_read))
        .route(api::LIST_MEMBERS.path, get(members))
        .route(api::CREATE_GROUP.path, post(create_group))
        .route(api::UPDATE_GROUP.path, patch(update_group))
        .route(api::INVITE_MEMBERS.path, post(invite))
        .route(
            api::REMOVE_MEMBER.path,
            axum::routing::delete(remove_member),
        )
        .route(api::SET_MEMBER_ROLE.path, put(set_role))
        .route(api::TRANSFER_OWNERSHIP.path, post(transfer))
}

async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> Reply<ConversationList> {
    Ok(axum::Json(app.conversations.list(caller, query).await?))
}

async fn conversation(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Reply<ConversationSummary> {
    Ok(axum::Json(
        app.conversations.get(caller, ConversationId(id)).await?,
    ))
}

async fn open_direct(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<OpenDirectRequest>,
) -> Reply<ConversationSummary> {
    Ok(axum::Json(
        app.conversations.open_direct(caller, body.user_id).await?,
    ))
}

async fn history(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(query): Query<HistoryQuery>,
) -> Reply<MessagePage> {
    Ok(axum::Json(
        app.conversations
            .history(caller, ConversationId(id), query)
            .await?,
    ))
}

async fn send(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<SendMessageRequest>,
) -> Reply<SendMessageResponse> {
    Ok(axum::Json(
        app.conversations
            .send(caller, ConversationId(id), body)
            .await?,
    ))
}

async fn mark_read(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<MarkReadRequest>,
) -> Reply<ReadPosition> {
    Ok(axum::Json(
        app.conversations
            .mark_read(caller, ConversationId(id), body.seq)
            .await?,
    ))
}

async fn members(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Reply<MemberList> {
    Ok(axum::Json(
        app.conversations
            .members(caller, ConversationId(id), query)
            .await?,
    ))
}

async fn create_group(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateGroupRequest>,
) -> Reply<ConversationSummary> {
    Ok(axum::Json(
        app.conversations.create_group(caller, body).await?,
    ))
}

async fn update_group(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<UpdateGroupRequest>,
) -> Reply<Ok> {
    app.conversations
        .update_group(caller, ConversationId(id), body)
        .await?;
    Ok(axum::Json(Ok::YES))
}

async fn invite(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<InviteRequest>,
) -> Reply<MemberList> {
    Ok(axum::Json(
        app.conversations
            .invite(caller, ConversationId(id), body.user_ids)
            .await?,
    ))
}

async fn remove_member(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, user)): Path<(i64, i64)>,
) -> Reply<Ok> {
    app.conversations
        .remove_member(caller, ConversationId(id), UserId(user))
        .await?;
    Ok(axum::Json(Ok::YES))
}

async fn set_role(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, user)): Path<(i64, i64)>,
    Json(body): Json<SetRoleRequest>,
) -> Reply<Ok> {
    app.conversations
        .set_role(caller, ConversationId(id), UserId(user), body.role)
        .await?;
    Ok(axum::Json(Ok::YES))
}

async fn transfer(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<TransferRequest>,
) -> Reply<Ok> {
    app.conversations
        .transfer(caller, ConversationId(id), body.user_id)
        .await?;
    Ok(axum::Json(Ok::YES))
}
