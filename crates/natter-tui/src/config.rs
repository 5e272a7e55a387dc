//! The saved login: server URL, username and session token, kept in the
//! user's config directory (`$XDG_CONFIG_HOME/natter/session.json` by
//! default) with permissions 0600, because the token is a password
//! equivalent.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CommandError;

/// The file name inside the config directory.
pub const SESSION_FILE: &str = "session.json";

/// What `natter login` saves and every other command reads.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSession {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// The username, for display.
    pub username: String,
    /// The session token (64 hex characters).
    pub token: String,
    /// The PEM certificate trusted for this server at login (`NATTER_CA_CERT`),
    /// so that later commands trust it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

impl std::fmt::Debug for SavedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedSession")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("token", &"***")
            .finish()
    }
}

/// Where the session file lives: `explicit` if given, else the platform's
/// config directory plus `natter`.
pub fn config_dir(explicit: Option<&Path>) -> Result<PathBuf, CommandError> {
    match explicit {
        Some(dir) => Ok(dir.to_path_buf()),
        None => dirs::config_dir()
            .map(|dir| dir.join("natter"))
            .ok_or(CommandError::NoConfigDir),
    }
}

/// Reads the saved session. `NotLoggedIn` when there is none.
pub fn load(dir: &Path) -> Result<SavedSession, CommandError> {
    let path = dir.join(SESSION_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(CommandError::NotLoggedIn);
        }
        Err(source) => return Err(CommandError::Io { path, source }),
    };
    serde_json::from_str(&text).map_err(|err| CommandError::BadConfig {
        path,
        reason: err.to_string(),
    })
}

/// Writes the session file with mode 0600 (created so from the start, so the
/// token is never readable by others, not even for a moment).
pub fn save(dir: &Path, session: &SavedSession) -> Result<PathBuf, CommandError> {
    let path = dir.join(SESSION_FILE);
    let body = serde_json::to_vec_pretty(session).map_err(|err| CommandError::BadConfig {
        path: path.clone(),
        reason: err.to_string(),
    })?;
    write_private(dir, SESSION_FILE, &body)
}

/// Replaces `dir/name` with `body`, atomically (through a temporary file
/// renamed over it) and with mode 0600 from the start: for what others on
/// the machine must not read (the token, unsent messages).
pub(crate) fn write_private(dir: &Path, name: &str, body: &[u8]) -> Result<PathBuf, CommandError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CommandError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    #[cfg(unix)]
    {
        // A file left by an older version may have wider permissions.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(&tmp))?;
    }
    file.write_all(body).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

/// Deletes `dir/name`, if it is there.
pub(crate) fn remove_file(dir: &Path, name: &str) -> Result<(), CommandError> {
    let path = dir.join(name);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CommandError::Io { path, source }),
    }
}

/// Deletes the session file, if any.
pub fn remove(dir: &Path) -> Result<(), CommandError> {
    remove_file(dir, SESSION_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_sessions_round_trip_with_private_permissions() -> Result<(), CommandError> {
        let dir = std::env::temp_dir().join(format!("natter-config-test-{}", std::process::id()));
        let session = SavedSession {
            ca_cert: None,
            server: "http://127.0.0.1:1".into(),
            username: "alice".into(),
            token: "ab".repeat(32),
        };
        let path = save(&dir, &session)?;
        assert_eq!(load(&dir)?, session);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map_err(|source| CommandError::Io {
                    path: path.clone(),
                    source,
                })?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{session:?}").contains(&session.token));
        remove(&dir)?;
        assert!(matches!(load(&dir), Err(CommandError::NotLoggedIn)));
        let _ = std::fs::remove_dir(&dir);
        Ok(())
    }
}
