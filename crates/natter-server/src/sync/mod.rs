//! Sync: the caller's change stream after a cursor, and the conversations that
//! changed, so a reconnecting device fetches exactly what it missed.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use natter_protocol::SyncCursor;
use natter_protocol::sync::{self as api, SyncQuery, SyncResponse};
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

    async fn fill_presence(&self, answer: &mut SyncResponse) {
        self.presence
            .fill_friends_added(answer.events.iter_mut().map(|event| &mut event.change))
            .await;
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
