//! Accounts: registration, login, sessions (devices), passwords and profiles.

mod fair_queue;
mod hashing;
mod names;
mod passwords;
pub mod routes;

use std::net::IpAddr;
use std::sync::Arc;

use natter_protocol::accounts::{
    ChangePasswordRequest, Device, DeviceList, LoginRequest, LoginResponse, RegisterRequest,
    UpdateProfileRequest, UserProfile,
};
use natter_protocol::contacts::{SearchUsersQuery, UserSearchPage};
use natter_protocol::limits::{NAME_MAX_CHARS, PAGE_DEFAULT, PAGE_MAX, PASSWORD_MAX_CHARS};
use natter_protocol::ws::Event;
use natter_protocol::{DeviceId, ErrorCode, UserId};
use natter_store::{AccountStore, ContactStore, NewUser, Rejection, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use hashing::{HashError, PasswordHashing, Requester};
pub use names::search_key;
use passwords::check_password;

use crate::clock::now;
use crate::config::AccountsConfig;
use crate::error::{ApiError, ApiResult};
use crate::events::Publisher;
use crate::limits::RateLimits;
use crate::text::clean_name;

/// Who is making a request: an authenticated device of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub device: DeviceId,
}

/// How often a device's "last seen" is written, at most.
const TOUCH_EVERY_MS: i64 = 60_000;

pub struct AccountService {
    store: Arc<dyn AccountStore>,
    /// Who is told of a new display name at once: the presence audience.
    contacts: Arc<dyn ContactStore>,
    publisher: Arc<Publisher>,
    config: AccountsConfig,
    limits: Arc<RateLimits>,
    hashing: PasswordHashing,
    /// Verified against when a username does not exist, so that a wrong username
    /// costs the same time as a wrong password.
    decoy_hash: OnceCell<String>,
}

impl AccountService {
    pub fn new(
        store: Arc<dyn AccountStore>,
        contacts: Arc<dyn ContactStore>,
        publisher: Arc<Publisher>,
        config: AccountsConfig,
        limits: Arc<RateLimits>,
    ) -> AccountService {
        AccountService {
            hashing: PasswordHashing::start(
                config.max_concurrent_hashes,
                limits
                    .enabled()
                    .then_some(config.max_waiting_hashes_per_address),
            ),
            store,
            contacts,
            publisher,
            config,
            limits,
            decoy_hash: OnceCell::new(),
        }
    }

    pub async fn register(
        &self,
        request: RegisterRequest,
        address: IpAddr,
    ) -> ApiResult<UserProfile> {
        if !self.config.registration_open {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "Registration is closed on this server.",
            ));
        }
        let username = names::parse_username(&request.username).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidUsername,
                "Usernames have 3 to 32 characters: letters, digits, '_', '-' or '.'.",
            )
        })?;
        self.limits.register(address)?;
        let display_name = match request.display_name {
            Some(name) => {
                clean_name(&name, "display_name")?.unwrap_or_else(|| username.display.clone())
            }
            None => username.display.clone(),
        };
        check_password(&request.password, &[&username.display, &display_name])?;
        let who = Requester {
            address,
            account: username.key.clone(),
        };
        let password_hash = self.hash(request.password, &who).await?;
        let user = NewUser {
            display_key: search_key(&display_name),
            username: username.display,
            username_key: username.key,
            display_name,
            password_hash,
            now: now(),
        };
        self.store
            .insert_user(user)
            .await
            .map_err(|error| match error {
                StoreError::Rejected(Rejection::Taken) => {
                    ApiError::new(ErrorCode::UsernameTaken, "That username is taken.")
                }
                other => other.into(),
            })
    }

    pub async fn login(&self, request: LoginRequest, address: IpAddr) -> ApiResult<LoginResponse> {
        let invalid =
            || ApiError::new(ErrorCode::InvalidCredentials, "Wrong username or password.");
        let device_name = match request.device.as_deref().map(|d| clean_name(d, "device")) {
            Some(result) => result?.unwrap_or_else(|| "Unnamed device".into()),
            None => "Unnamed device".into(),
        };
        if request.password.chars().count() > PASSWORD_MAX_CHARS {
            return Err(invalid());
        }
        // A name that breaks the rules cannot exist: no hash is worth computing
        // for it (anyone can check the rules), but the attempt still counts
        // against the address. Valid names key the account budget by their
        // normalized form, at most 32 characters, so the budget's memory is
        // bounded whatever is sent.
        let Some(username) = names::parse_username(&request.username) else {
            self.limits.login(None, address)?;
            return Err(invalid());
        };
        // Counted for unknown names too: the limit must not tell which exist.
        self.limits.login(Some(&username.key), address)?;
        let who = Requester {
            address,
            account: username.key.clone(),
        };
        let found = self
            .store
            .find_credentials(&username.key, &username.display)
            .await?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, self.decoy_hash().await?),
        };
        let verified = self.verify(request.password, hash, &who).await?;
        let user = match (user, verified) {
            (Some(user), true) => user,
            _ => return Err(invalid()),
        };
        let token = new_token();
        let device_id = self
            .store
            .insert_session(user, device_name, token_hash(&token), now())
            .await?;
        let profile = self
            .store
            .find_user(user)
            .await?
            .ok_or_else(ApiError::not_found)?;
        Ok(LoginResponse {
            token,
            device_id,
            user: profile,
        })
    }

    /// Makes the stored look-alike keys again when they were made by an older
    /// version of [`search_key`]. Run once at start, before serving.
    pub async fn rekey_names(&self) -> ApiResult<()> {
        let keys: natter_store::NameKeys = std::sync::Arc::new(|username: &str, display: &str| {
            (search_key(username), search_key(display))
        });
        let collided = self.store.rekey_users(names::KEY_VERSION, keys).await?;
        if !collided.is_empty() {
            // Both accounts still log in by their exact names; no new look-alike can register.
            tracing::warn!(
                users = ?collided,
                "accounts whose names are look-alikes of older accounts' names"
            );
        }
        Ok(())
    }

    /// The device a bearer token belongs to. `Unauthorized` for unknown tokens.
    pub async fn authenticate(&self, token: &str) -> ApiResult<Caller> {
        let unauthorized = || ApiError::new(ErrorCode::Unauthorized, "Log in again.");
        if token.is_empty() || token.len() > 128 {
            return Err(unauthorized());
        }
        // Lookup is by the SHA-256 of the token through a unique index: the
        // comparison never touches the secret itself, so it leaks no timing about it.
        let session = self
            .store
            .find_session(token_hash(token))
            .await?
            .ok_or_else(unauthorized)?;
        let at = now();
        let caller = Caller {
            user: session.user_id,
            device: session.device_id,
        };
        if session_expired(session.last_seen_at, at, self.idle_limit_ms()) {
            self.revoke_device(caller, session.device_id).await?;
            return Err(unauthorized());
        }
        if at.0 - session.last_seen_at.0 > TOUCH_EVERY_MS {
            self.store.touch_session(session.device_id, at).await?;
        }
        Ok(caller)
    }

    fn idle_limit_ms(&self) -> i64 {
        i64::try_from(self.config.session_idle().as_millis()).unwrap_or(i64::MAX)
    }

    /// Ends every session unused for longer than the configured idle time and
    /// closes their connections. Run periodically; `authenticate` also refuses
    /// such sessions in between.
    pub async fn expire_idle_sessions(&self) -> ApiResult<usize> {
        let idle_before = natter_protocol::Timestamp(now().0.saturating_sub(self.idle_limit_ms()));
        let expired = self.store.delete_idle_sessions(idle_before).await?;
        for session in &expired {
            self.publisher
                .disconnect(session.user_id, vec![session.device_id])
                .await;
        }
        Ok(expired.len())
    }

    /// Records that a device is in use (for connections that make no HTTP calls).
    pub async fn touch(&self, caller: Caller) {
        if let Err(error) = self.store.touch_session(caller.device, now()).await {
            tracing::warn!(%error, "cannot record device use");
        }
    }

    pub async fn logout(&self, caller: Caller) -> ApiResult<()> {
        self.revoke_device(caller, caller.device).await
    }

    pub async fn me(&self, caller: Caller) -> ApiResult<UserProfile> {
        self.store
            .find_user(caller.user)
            .await?
            .ok_or_else(ApiError::not_found)
    }

    pub async fn update_me(
        &self,
        caller: Caller,
        request: UpdateProfileRequest,
    ) -> ApiResult<UserProfile> {
        let current = self.me(caller).await?;
        let name = clean_name(&request.display_name, "display_name")?.unwrap_or(current.username);
        let (profile, changes) = self
            .store
            .update_display_name(caller.user, name.clone(), search_key(&name), now())
            .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        // Friends see the new name at once, as they see presence; the stored
        // change (the direct conversations' version) reaches the others at sync.
        match self.contacts.list_presence_audience(caller.user).await {
            Ok(audience) => {
                let event = Event::Profile {
                    user: profile.clone(),
                };
                self.publisher.event(audience.into(), event, None).await;
            }
            Err(error) => tracing::warn!(%error, "cannot tell friends of a new display name"),
        }
        Ok(profile)
    }

    /// Changes the password after checking the current one. Every attempt
    /// counts against the account's login budget: a stolen token must not
    /// become a way to guess the password (which, once changed, would log the
    /// owner's other devices out).
    pub async fn change_password(
        &self,
        caller: Caller,
        request: ChangePasswordRequest,
        address: IpAddr,
    ) -> ApiResult<()> {
        let me = self.me(caller).await?;
        let account = search_key(&me.username);
        self.limits.login(Some(&account), address)?;
        check_password(&request.new_password, &[&me.username, &me.display_name])?;
        let who = Requester { address, account };
        let hash = self.store.get_password_hash(caller.user).await?;
        if !self.verify(request.old_password, hash, &who).await? {
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "The current password is wrong.",
            ));
        }
        let new_hash = self.hash(request.new_password, &who).await?;
        let revoked = self
            .store
            .update_password(caller.user, new_hash, caller.device)
            .await?;
        self.publisher.disconnect(caller.user, revoked).await;
        Ok(())
    }

    pub async fn devices(&self, caller: Caller) -> ApiResult<DeviceList> {
        let sessions = self.store.list_sessions(caller.user).await?;
        let devices = sessions
            .into_iter()
            .map(|s| Device {
                current: s.device_id == caller.device,
                id: s.device_id,
                name: s.name,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect();
        Ok(DeviceList { devices })
    }

    /// Ends a device's session; its live connections close at once.
    pub async fn revoke_device(&self, caller: Caller, device: DeviceId) -> ApiResult<()> {
        self.store.delete_session(caller.user, device).await?;
        self.publisher.disconnect(caller.user, vec![device]).await;
        Ok(())
    }

    pub async fn user(&self, _caller: Caller, user: UserId) -> ApiResult<UserProfile> {
        self.store
            .find_user(user)
            .await?
            .ok_or_else(ApiError::not_found)
    }

    pub async fn search(
        &self,
        _caller: Caller,
        query: SearchUsersQuery,
    ) -> ApiResult<UserSearchPage> {
        let prefix = search_key(query.q.trim());
        if prefix.is_empty() || prefix.chars().count() > NAME_MAX_CHARS {
            return Err(ApiError::invalid("Search needs 1 to 64 characters."));
        }
        let limit = query.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX);
        // Deep paging is a scan; nobody pages through ten thousand people.
        let offset = query.offset.unwrap_or(0).min(10_000);
        let users = self.store.search_users(&prefix, limit, offset).await?;
        let next_offset = (users.len() as u32 == limit).then(|| offset.saturating_add(limit));
        Ok(UserSearchPage { users, next_offset })
    }

    async fn hash(&self, password: String, who: &Requester) -> ApiResult<String> {
        self.hashing.hash(password, who).await.map_err(hash_error)
    }

    async fn verify(&self, password: String, hash: String, who: &Requester) -> ApiResult<bool> {
        self.hashing
            .verify(password, hash, who)
            .await
            .map_err(hash_error)
    }

    /// A hash to verify against when a username does not exist, so that a wrong
    /// username costs the same time as a wrong password. Made once, on first
    /// use, in a lane of its own.
    async fn decoy_hash(&self) -> ApiResult<String> {
        let server = Requester {
            address: IpAddr::from([0, 0, 0, 0]),
            account: String::new(),
        };
        self.decoy_hash
            .get_or_try_init(|| self.hash("natter-decoy-password".into(), &server))
            .await
            .cloned()
    }
}

/// How long a client whose share of the hashing queue is used up should wait:
/// a few queued hashes' time, rounded up to what a person retries after.
const HASH_QUEUE_RETRY_MS: u64 = 1000;

fn hash_error(error: HashError) -> ApiError {
    match error {
        HashError::Busy => ApiError {
            retry_after_ms: Some(HASH_QUEUE_RETRY_MS),
            ..ApiError::new(
                ErrorCode::RateLimited,
                "Too many password checks are waiting. Try again in a moment.",
            )
        },
        other => internal(&other.to_string()),
    }
}

fn internal(what: &str) -> ApiError {
    tracing::error!(what, "internal error");
    ApiError::new(ErrorCode::Internal, "Internal error.")
}

/// Whether a session last seen at `last_seen` has been idle too long at `at`.
fn session_expired(
    last_seen: natter_protocol::Timestamp,
    at: natter_protocol::Timestamp,
    limit_ms: i64,
) -> bool {
    at.0.saturating_sub(last_seen.0) > limit_ms
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use natter_protocol::Timestamp;

    use super::session_expired;

    #[test]
    fn sessions_expire_only_after_the_idle_limit() {
        let day = 86_400_000;
        for (last_seen, at, expired) in
            [(0, 30 * day, false), (0, 30 * day + 1, true), (5, 4, false)]
        {
            assert_eq!(
                session_expired(Timestamp(last_seen), Timestamp(at), 30 * day),
                expired,
                "{last_seen} {at}"
            );
        }
    }
}
