//! Sync: the caller's change stream after a cursor, and the conversations that
//! changed, so a reconnecting device fetches exactly what it missed.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use natter_protocol::sync::{self as api, SyncQuery, SyncResponse, UserChange};
use natter_protocol::{SyncCursor, UserId};
use natter_store::SyncStore;

use crate::accounts::Caller;
use crate::app::AppState;
use crate::clock::now;
use crate::config::SyncConfig;
use crate::error::ApiResult;
use crate::http::extract::Query;
use crate::limits::RateLimits;
use crate::presence::PresenceService;

pub struct SyncService {
    store: Arc<dyn SyncStore>,
    presence: Arc<PresenceService>,
    config: SyncConfig,
    limits: Arc<RateLimits>,
}

impl SyncService {
    pub fn new(
        store: Arc<dyn SyncStore>,
        presence: Arc<PresenceService>,
        config: SyncConfig,
        limits: Arc<RateLimits>,
    ) -> SyncService {
        SyncService {
            store,
            presence,
            config,
            limits,
        }
    }

    pub async fn sync(
        &self,
        caller: Caller,
        since: SyncCursor,
        resume: bool,
    ) -> ApiResult<SyncResponse> {
        // A sync of many conversations is one of the heaviest reads there is.
        self.limits.sync(caller.user)?;
        let mut answer = self
            .store
            .sync(
                caller.user,
                since,
                resume,
                self.config.max_events.max(1),
                self.config.max_conversations.max(1),
            )
            .await?;
        self.fill_presence(&mut answer).await;
        Ok(answer)
    }

    /// Presence is not stored with a `friend_added` entry (it would be stale
    /// the moment it was written): each answer says whether the friend is
    /// online now, as the friend list does.
    async fn fill_presence(&self, answer: &mut SyncResponse) {
        let ids: Vec<UserId> = answer
            .events
            .iter()
            .filter_map(|event| match &event.change {
                UserChange::FriendAdded { friend } => Some(friend.user.id),
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            return;
        }
        let mut online = self.presence.online(&ids).await.into_iter();
        for event in &mut answer.events {
            if let UserChange::FriendAdded { friend } = &mut event.change {
                friend.online = online.next().unwrap_or(false);
            }
        }
    }

    /// Forgets change-stream entries older than `sync.keep_events_days`.
    /// Run periodically; returns how many were deleted.
    pub async fn prune_old_events(&self) -> ApiResult<usize> {
        let keep_ms = i64::try_from(self.config.keep_events().as_millis()).unwrap_or(i64::MAX);
        let before = natter_protocol::Timestamp(now().0.saturating_sub(keep_ms));
        Ok(self.store.prune_events(before).await?)
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route(api::SYNC.path, get(sync))
}

async fn sync(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<SyncQuery>,
) -> ApiResult<axum::Json<SyncResponse>> {
    Ok(axum::Json(
        app.sync.sync(caller, query.since, query.resume).await?,
    ))
}
