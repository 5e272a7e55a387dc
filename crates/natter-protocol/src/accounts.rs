//! Accounts, sessions (devices) and profiles.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{DeviceId, Endpoint, Method, Timestamp, UserId};

pub const REGISTER: Endpoint = Endpoint::new(Method::Post, "/api/v1/auth/register", false);
pub const LOGIN: Endpoint = Endpoint::new(Method::Post, "/api/v1/auth/login", false);
pub const LOGOUT: Endpoint = Endpoint::new(Method::Post, "/api/v1/auth/logout", true);
pub const GET_ME: Endpoint = Endpoint::new(Method::Get, "/api/v1/me", true);
pub const UPDATE_ME: Endpoint = Endpoint::new(Method::Patch, "/api/v1/me", true);
pub const CHANGE_PASSWORD: Endpoint = Endpoint::new(Method::Post, "/api/v1/me/password", true);
pub const LIST_DEVICES: Endpoint = Endpoint::new(Method::Get, "/api/v1/devices", true);
pub const REVOKE_DEVICE: Endpoint =
    Endpoint::new(Method::Delete, "/api/v1/devices/{device_id}", true);
pub const GET_USER: Endpoint = Endpoint::new(Method::Get, "/api/v1/users/{user_id}", true);

/// `POST /api/v1/auth/register`
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub display_name: Option<String>,
}

/// `POST /api/v1/auth/login`
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// A name for this device, shown in the device list ("Firefox on Linux").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub device: Option<String>,
}

/// Reply to a successful login.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct LoginResponse {
    /// The session token: send it as `Authorization: Bearer <token>` and in the
    /// WebSocket `auth` frame. The server stores only its hash.
    pub token: String,
    pub device_id: DeviceId,
    pub user: UserProfile,
}

/// A user as others see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct UserProfile {
    pub id: UserId,
    pub username: String,
    /// Defaults to the username when the user set none.
    pub display_name: String,
    pub created_at: Timestamp,
}

/// `PATCH /api/v1/me`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct UpdateProfileRequest {
    /// The new display name; an empty string resets it to the username.
    pub display_name: String,
}

/// `POST /api/v1/me/password`. Revokes every other device of the user.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ChangePasswordRequest {
    pub old_password: String,
    pub new_password: String,
}

/// One logged-in device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Device {
    pub id: DeviceId,
    pub name: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// Whether this is the device making the request.
    pub current: bool,
}

/// `GET /api/v1/devices`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<Device>,
}

/// An empty success reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Ok {
    pub ok: bool,
}

impl Ok {
    pub const YES: Ok = Ok { ok: true };
}

/// Debug output of the types that carry a password or a token shows
/// `"<redacted>"` instead, so that a stray `{:?}` in a log line leaks nothing.
const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .field("display_name", &self.display_name)
            .finish()
    }
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .field("device", &self.device)
            .finish()
    }
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &REDACTED)
            .field("device_id", &self.device_id)
            .field("user", &self.user)
            .finish()
    }
}

impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest")
            .field("old_password", &REDACTED)
            .field("new_password", &REDACTED)
            .finish()
    }
}
