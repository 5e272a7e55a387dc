//! Accounts, devices and profiles.

use natter_protocol::accounts::{
    self, ChangePasswordRequest, DeviceList, UpdateProfileRequest, UserProfile,
};
use natter_protocol::{DeviceId, UserId};

use super::Session;
use crate::error::Result;

impl Session {
    /// Logs this device out: the token stops working everywhere, and an open
    /// [`crate::Connection`] is closed by the server with code 4002.
    pub async fn logout(&self) -> Result<()> {
        self.call_ok(self.req(accounts::LOGOUT, &[])).await
    }

    /// The caller's profile, fresh from the server.
    pub async fn me(&self) -> Result<UserProfile> {
        self.call(self.req(accounts::GET_ME, &[])).await
    }

    /// Sets the display name; an empty string resets it to the username.
    pub async fn update_me(&self, display_name: &str) -> Result<UserProfile> {
        let body = UpdateProfileRequest {
            display_name: display_name.to_owned(),
        };
        self.call(self.req(accounts::UPDATE_ME, &[]).json(&body))
            .await
    }

    /// Changes the password. Revokes every other device of the user; this one
    /// stays logged in.
    pub async fn change_password(&self, old_password: &str, new_password: &str) -> Result<()> {
        let body = ChangePasswordRequest {
            old_password: old_password.to_owned(),
            new_password: new_password.to_owned(),
        };
        self.call_ok(self.req(accounts::CHANGE_PASSWORD, &[]).json(&body))
            .await
    }

    /// The user's logged-in devices.
    pub async fn devices(&self) -> Result<DeviceList> {
        self.call(self.req(accounts::LIST_DEVICES, &[])).await
    }

    /// Logs out one of the user's devices.
    pub async fn revoke_device(&self, device_id: DeviceId) -> Result<()> {
        self.call_ok(self.req(accounts::REVOKE_DEVICE, &[&device_id]))
            .await
    }

    /// Another user's profile.
    pub async fn get_user(&self, user_id: UserId) -> Result<UserProfile> {
        self.call(self.req(accounts::GET_USER, &[&user_id])).await
    }
}
