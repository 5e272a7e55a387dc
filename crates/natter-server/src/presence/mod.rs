//! Presence: who is online, told to friends as it changes.

use std::sync::Arc;

use natter_bus::Presence;
use natter_protocol::UserId;
use natter_protocol::contacts::Friend;
use natter_protocol::sync::UserChange;
use natter_protocol::ws::Event;
use natter_store::{AccountStore, ContactStore};

use crate::clock::now;
use crate::events::Publisher;

pub struct PresenceService {
    presence: Arc<dyn Presence>,
    contacts: Arc<dyn ContactStore>,
    accounts: Arc<dyn AccountStore>,
    publisher: Arc<Publisher>,
}

impl PresenceService {
    pub fn new(
        presence: Arc<dyn Presence>,
        contacts: Arc<dyn ContactStore>,
        accounts: Arc<dyn AccountStore>,
        publisher: Arc<Publisher>,
    ) -> PresenceService {
        PresenceService {
            presence,
            contacts,
            accounts,
            publisher,
        }
    }

    /// A device of `user` connected.
    pub async fn connected(&self, user: UserId) {
        match self.presence.connected(user).await {
            Ok(true) => self.announce(user, true, None).await,
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "presence unavailable"),
        }
    }

    /// A device of `user` disconnected.
    pub async fn disconnected(&self, user: UserId) {
        match self.presence.disconnected(user).await {
            Ok(true) => {
                let at = now();
                if let Err(error) = self.accounts.update_last_seen(user, at).await {
                    tracing::warn!(%error, "cannot record last seen");
                }
                // `announce` re-checks presence, so a reconnect during the write
                // above is not contradicted by this older "offline".
                self.announce(user, false, Some(at)).await;
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "presence unavailable"),
        }
    }

    /// Ends the presence of users whose last connection was on a node that
    /// died (its lease lapsed), and tells their friends. Any node may call
    /// it; each such user is reported to one node only.
    pub async fn sweep(&self) {
        let gone = match self.presence.sweep_expired().await {
            Ok(gone) => gone,
            Err(error) => {
                tracing::warn!(%error, "cannot sweep the presence of dead nodes");
                return;
            }
        };
        if !gone.is_empty() {
            tracing::info!(
                users = gone.len(),
                "users of a node that died are offline now"
            );
        }
        for user in gone {
            let at = now();
            if let Err(error) = self.accounts.update_last_seen(user, at).await {
                tracing::warn!(%error, "cannot record last seen");
            }
            self.announce(user, false, Some(at)).await;
        }
    }

    /// Presence is not stored with a `friend_added` entry (it would be stale
    /// the moment it was written): wherever one is sent, live or in a sync
    /// answer, it says whether the friend is online now, as the friend list does.
    pub async fn fill_friends_added<'a>(
        &self,
        changes: impl IntoIterator<Item = &'a mut UserChange>,
    ) {
        let mut added: Vec<&mut Friend> = changes
            .into_iter()
            .filter_map(|change| match change {
                UserChange::FriendAdded { friend } => Some(friend),
                _ => None,
            })
            .collect();
        if added.is_empty() {
            return;
        }
        let ids: Vec<UserId> = added.iter().map(|friend| friend.user.id).collect();
        let online = self.online(&ids).await;
        for (friend, online) in added.iter_mut().zip(online) {
            friend.online = online;
        }
    }

    /// Which of `users` are online; all offline when presence is unavailable.
    pub async fn online(&self, users: &[UserId]) -> Vec<bool> {
        self.presence.online(users).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "presence unavailable");
            vec![false; users.len()]
        })
    }

    async fn announce(
        &self,
        user: UserId,
        online: bool,
        last_seen_at: Option<natter_protocol::Timestamp>,
    ) {
        let audience = match self.contacts.list_presence_audience(user).await {
            Ok(audience) => audience,
            Err(error) => {
                tracing::warn!(%error, "cannot load presence audience");
                return;
            }
        };
        // The audience query took a moment: say only what is still true.
        if self.online(&[user]).await.first().copied() != Some(online) {
            return;
        }
        let event = Event::Presence {
            user_id: user,
            online,
            last_seen_at,
        };
        self.publisher.event(audience.into(), event, None).await;
    }
}
