//! The store's own form of what it keeps of message contents and of
//! change-stream entries, apart from the wire types it hands out.
//!
//! This is **storage encoding version 1**. Its JSON is exactly what the store
//! wrote while it kept the wire types verbatim (SQLite's `messages.content`
//! and `user_events.change`, the bytes of PostgreSQL's `content` and
//! `change` columns), so every row written before decodes with no data
//! migration. The golden tests below pin that JSON.
//!
//! Rules:
//! - These types change only together with a new storage encoding version
//!   (new types beside these, and a decoder that still reads version 1 rows).
//!   A change to a wire type changes the conversions here, never the stored
//!   form: rows outlive builds.
//! - None of them denies unknown fields: version 1 rows of `friend_added`
//!   carry an `"online"` key, a placeholder that is not stored data, and it
//!   must be ignored when they are read.
//! - The conversions match exhaustively, with no wildcard arm, so that a new
//!   wire variant does not compile until the store decides its stored form.
//! - Ids and times are bare integers: their newtypes belong to the wire.

use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::{Friend, FriendRequest, FriendRequestStatus};
use natter_protocol::conversations::{MediaRef, MessageContent, Role, SystemEvent};
use natter_protocol::sync::UserChange;
use natter_protocol::{ConversationId, FriendRequestId, Seq, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// What the store may write to a content or change column: only its own
/// forms, so that a wire type cannot reach a row unconverted again.
pub(crate) trait StoredForm: Serialize + serde::de::DeserializeOwned {}

impl StoredForm for StoredContent {}
impl StoredForm for StoredChange {}

/// A message's content as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum StoredContent {
    Text { text: String },
    Image { media: StoredMedia },
    Voice { media: StoredMedia },
    Video { media: StoredMedia },
    File { media: StoredMedia },
    Sticker { pack: String, sticker: String },
    System { event: StoredSystemEvent },
    Encrypted { mls: String },
}

/// A reference to an uploaded media object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredMedia {
    pub media_id: String,
    pub mime: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
}

/// A change to a conversation, as a system message keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum StoredSystemEvent {
    GroupCreated {
        by: i64,
        name: String,
    },
    MembersAdded {
        by: i64,
        users: Vec<i64>,
    },
    MemberRemoved {
        by: i64,
        user: i64,
    },
    MemberLeft {
        user: i64,
    },
    Renamed {
        by: i64,
        name: String,
    },
    AnnouncementSet {
        by: i64,
        text: String,
    },
    RoleChanged {
        by: i64,
        user: i64,
        role: StoredRole,
    },
    OwnershipTransferred {
        from: i64,
        to: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StoredRole {
    Member,
    Admin,
    Owner,
}

/// A change-stream entry as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum StoredChange {
    FriendRequestReceived {
        request: StoredFriendRequest,
    },
    FriendRequestUpdated {
        request: StoredFriendRequest,
    },
    FriendAdded {
        friend: StoredFriend,
    },
    FriendRemoved {
        user_id: i64,
    },
    FriendUpdated {
        user_id: i64,
        remark: Option<String>,
    },
    BlockChanged {
        user_id: i64,
        blocked: bool,
    },
    ConversationJoined {
        conversation_id: i64,
    },
    ConversationLeft {
        conversation_id: i64,
        removed_by: Option<i64>,
    },
    ReadPosition {
        conversation_id: i64,
        read_seq: i64,
    },
    ProfileUpdated {
        display_name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredFriendRequest {
    pub id: i64,
    pub from: StoredProfile,
    pub to: StoredProfile,
    pub greeting: String,
    pub status: StoredRequestStatus,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StoredRequestStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
}

/// A user's profile as it was when the entry was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredProfile {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub created_at: i64,
}

/// A new friend. Presence is not stored: it is true only at the moment it
/// is read, so the server fills it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredFriend {
    pub user: StoredProfile,
    pub remark: Option<String>,
    pub since: i64,
    pub last_seen_at: Option<i64>,
    pub conversation_id: i64,
}

impl From<&MessageContent> for StoredContent {
    fn from(content: &MessageContent) -> Self {
        match content {
            MessageContent::Text { text } => Self::Text { text: text.clone() },
            MessageContent::Image { media } => Self::Image {
                media: media.into(),
            },
            MessageContent::Voice { media } => Self::Voice {
                media: media.into(),
            },
            MessageContent::Video { media } => Self::Video {
                media: media.into(),
            },
            MessageContent::File { media } => Self::File {
                media: media.into(),
            },
            MessageContent::Sticker { pack, sticker } => Self::Sticker {
                pack: pack.clone(),
                sticker: sticker.clone(),
            },
            MessageContent::System { event } => Self::System {
                event: event.into(),
            },
            MessageContent::Encrypted { mls } => Self::Encrypted { mls: mls.clone() },
        }
    }
}

impl From<StoredContent> for MessageContent {
    fn from(content: StoredContent) -> Self {
        match content {
            StoredContent::Text { text } => Self::Text { text },
            StoredContent::Image { media } => Self::Image {
                media: media.into(),
            },
            StoredContent::Voice { media } => Self::Voice {
                media: media.into(),
            },
            StoredContent::Video { media } => Self::Video {
                media: media.into(),
            },
            StoredContent::File { media } => Self::File {
                media: media.into(),
            },
            StoredContent::Sticker { pack, sticker } => Self::Sticker { pack, sticker },
            StoredContent::System { event } => Self::System {
                event: event.into(),
            },
            StoredContent::Encrypted { mls } => Self::Encrypted { mls },
        }
    }
}

impl From<&MediaRef> for StoredMedia {
    fn from(media: &MediaRef) -> Self {
        // Destructured so that a new wire field does not compile until it is
        // given a stored form.
        let MediaRef {
            media_id,
            mime,
            size,
            name,
            width,
            height,
            duration_ms,
        } = media;
        Self {
            media_id: media_id.clone(),
            mime: mime.clone(),
            size: *size,
            name: name.clone(),
            width: *width,
            height: *height,
            duration_ms: *duration_ms,
        }
    }
}

impl From<StoredMedia> for MediaRef {
    fn from(media: StoredMedia) -> Self {
        Self {
            media_id: media.media_id,
            mime: media.mime,
            size: media.size,
            name: media.name,
            width: media.width,
            height: media.height,
            duration_ms: media.duration_ms,
        }
    }
}

impl From<&SystemEvent> for StoredSystemEvent {
    fn from(event: &SystemEvent) -> Self {
        match event {
            SystemEvent::GroupCreated { by, name } => Self::GroupCreated {
                by: by.0,
                name: name.clone(),
            },
            SystemEvent::MembersAdded { by, users } => Self::MembersAdded {
                by: by.0,
                users: users.iter().map(|u| u.0).collect(),
            },
            SystemEvent::MemberRemoved { by, user } => Self::MemberRemoved {
                by: by.0,
                user: user.0,
            },
            SystemEvent::MemberLeft { user } => Self::MemberLeft { user: user.0 },
            SystemEvent::Renamed { by, name } => Self::Renamed {
                by: by.0,
                name: name.clone(),
            },
            SystemEvent::AnnouncementSet { by, text } => Self::AnnouncementSet {
                by: by.0,
                text: text.clone(),
            },
            SystemEvent::RoleChanged { by, user, role } => Self::RoleChanged {
                by: by.0,
                user: user.0,
                role: (*role).into(),
            },
            SystemEvent::OwnershipTransferred { from, to } => Self::OwnershipTransferred {
                from: from.0,
                to: to.0,
            },
        }
    }
}

impl From<StoredSystemEvent> for SystemEvent {
    fn from(event: StoredSystemEvent) -> Self {
        match event {
            StoredSystemEvent::GroupCreated { by, name } => Self::GroupCreated {
                by: UserId(by),
                name,
            },
            StoredSystemEvent::MembersAdded { by, users } => Self::MembersAdded {
                by: UserId(by),
                users: users.into_iter().map(UserId).collect(),
            },
            StoredSystemEvent::MemberRemoved { by, user } => Self::MemberRemoved {
                by: UserId(by),
                user: UserId(user),
            },
            StoredSystemEvent::MemberLeft { user } => Self::MemberLeft { user: UserId(user) },
            StoredSystemEvent::Renamed { by, name } => Self::Renamed {
                by: UserId(by),
                name,
            },
            StoredSystemEvent::AnnouncementSet { by, text } => Self::AnnouncementSet {
                by: UserId(by),
                text,
            },
            StoredSystemEvent::RoleChanged { by, user, role } => Self::RoleChanged {
                by: UserId(by),
                user: UserId(user),
                role: role.into(),
            },
            StoredSystemEvent::OwnershipTransferred { from, to } => Self::OwnershipTransferred {
                from: UserId(from),
                to: UserId(to),
            },
        }
    }
}

impl From<Role> for StoredRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Member => Self::Member,
            Role::Admin => Self::Admin,
            Role::Owner => Self::Owner,
        }
    }
}

impl From<StoredRole> for Role {
    fn from(role: StoredRole) -> Self {
        match role {
            StoredRole::Member => Self::Member,
            StoredRole::Admin => Self::Admin,
            StoredRole::Owner => Self::Owner,
        }
    }
}

impl From<&UserChange> for StoredChange {
    fn from(change: &UserChange) -> Self {
        match change {
            UserChange::FriendRequestReceived { request } => Self::FriendRequestReceived {
                request: request.into(),
            },
            UserChange::FriendRequestUpdated { request } => Self::FriendRequestUpdated {
                request: request.into(),
            },
            UserChange::FriendAdded { friend } => Self::FriendAdded {
                friend: friend.into(),
            },
            UserChange::FriendRemoved { user_id } => Self::FriendRemoved { user_id: user_id.0 },
            UserChange::FriendUpdated { user_id, remark } => Self::FriendUpdated {
                user_id: user_id.0,
                remark: remark.clone(),
            },
            UserChange::BlockChanged { user_id, blocked } => Self::BlockChanged {
                user_id: user_id.0,
                blocked: *blocked,
            },
            UserChange::ConversationJoined { conversation_id } => Self::ConversationJoined {
                conversation_id: conversation_id.0,
            },
            UserChange::ConversationLeft {
                conversation_id,
                removed_by,
            } => Self::ConversationLeft {
                conversation_id: conversation_id.0,
                removed_by: removed_by.map(|u| u.0),
            },
            UserChange::ReadPosition {
                conversation_id,
                read_seq,
            } => Self::ReadPosition {
                conversation_id: conversation_id.0,
                read_seq: read_seq.0,
            },
            UserChange::ProfileUpdated { display_name } => Self::ProfileUpdated {
                display_name: display_name.clone(),
            },
        }
    }
}

/// `FriendAdded` comes back with `online: false`: presence is not stored,
/// and the server sets it from its presence service before answering.
impl From<StoredChange> for UserChange {
    fn from(change: StoredChange) -> Self {
        match change {
            StoredChange::FriendRequestReceived { request } => Self::FriendRequestReceived {
                request: request.into(),
            },
            StoredChange::FriendRequestUpdated { request } => Self::FriendRequestUpdated {
                request: request.into(),
            },
            StoredChange::FriendAdded { friend } => Self::FriendAdded {
                friend: friend.into(),
            },
            StoredChange::FriendRemoved { user_id } => Self::FriendRemoved {
                user_id: UserId(user_id),
            },
            StoredChange::FriendUpdated { user_id, remark } => Self::FriendUpdated {
                user_id: UserId(user_id),
                remark,
            },
            StoredChange::BlockChanged { user_id, blocked } => Self::BlockChanged {
                user_id: UserId(user_id),
                blocked,
            },
            StoredChange::ConversationJoined { conversation_id } => Self::ConversationJoined {
                conversation_id: ConversationId(conversation_id),
            },
            StoredChange::ConversationLeft {
                conversation_id,
                removed_by,
            } => Self::ConversationLeft {
                conversation_id: ConversationId(conversation_id),
                removed_by: removed_by.map(UserId),
            },
            StoredChange::ReadPosition {
                conversation_id,
                read_seq,
            } => Self::ReadPosition {
                conversation_id: ConversationId(conversation_id),
                read_seq: Seq(read_seq),
            },
            StoredChange::ProfileUpdated { display_name } => Self::ProfileUpdated { display_name },
        }
    }
}

impl From<&FriendRequest> for StoredFriendRequest {
    fn from(request: &FriendRequest) -> Self {
        let FriendRequest {
            id,
            from,
            to,
            greeting,
            status,
            created_at,
            updated_at,
        } = request;
        Self {
            id: id.0,
            from: from.into(),
            to: to.into(),
            greeting: greeting.clone(),
            status: (*status).into(),
            created_at: created_at.0,
            updated_at: updated_at.0,
        }
    }
}

impl From<StoredFriendRequest> for FriendRequest {
    fn from(request: StoredFriendRequest) -> Self {
        Self {
            id: FriendRequestId(request.id),
            from: request.from.into(),
            to: request.to.into(),
            greeting: request.greeting,
            status: request.status.into(),
            created_at: Timestamp(request.created_at),
            updated_at: Timestamp(request.updated_at),
        }
    }
}

impl From<FriendRequestStatus> for StoredRequestStatus {
    fn from(status: FriendRequestStatus) -> Self {
        match status {
            FriendRequestStatus::Pending => Self::Pending,
            FriendRequestStatus::Accepted => Self::Accepted,
            FriendRequestStatus::Declined => Self::Declined,
            FriendRequestStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<StoredRequestStatus> for FriendRequestStatus {
    fn from(status: StoredRequestStatus) -> Self {
        match status {
            StoredRequestStatus::Pending => Self::Pending,
            StoredRequestStatus::Accepted => Self::Accepted,
            StoredRequestStatus::Declined => Self::Declined,
            StoredRequestStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<&UserProfile> for StoredProfile {
    fn from(profile: &UserProfile) -> Self {
        let UserProfile {
            id,
            username,
            display_name,
            created_at,
        } = profile;
        Self {
            id: id.0,
            username: username.clone(),
            display_name: display_name.clone(),
            created_at: created_at.0,
        }
    }
}

impl From<StoredProfile> for UserProfile {
    fn from(profile: StoredProfile) -> Self {
        Self {
            id: UserId(profile.id),
            username: profile.username,
            display_name: profile.display_name,
            created_at: Timestamp(profile.created_at),
        }
    }
}

impl From<&Friend> for StoredFriend {
    fn from(friend: &Friend) -> Self {
        let Friend {
            user,
            remark,
            since,
            // Presence is not stored data.
            online: _,
            last_seen_at,
            conversation_id,
        } = friend;
        Self {
            user: user.into(),
            remark: remark.clone(),
            since: since.0,
            last_seen_at: last_seen_at.map(|t| t.0),
            conversation_id: conversation_id.0,
        }
    }
}

impl From<StoredFriend> for Friend {
    fn from(friend: StoredFriend) -> Self {
        Self {
            user: friend.user.into(),
            remark: friend.remark,
            since: Timestamp(friend.since),
            // The server fills presence when it answers.
            online: false,
            last_seen_at: friend.last_seen_at.map(Timestamp),
            conversation_id: ConversationId(friend.conversation_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use natter_protocol::accounts::UserProfile;
    use natter_protocol::contacts::{Friend, FriendRequest, FriendRequestStatus};
    use natter_protocol::conversations::{MediaRef, MessageContent, Role, SystemEvent};
    use natter_protocol::sync::UserChange;
    use natter_protocol::{ConversationId, FriendRequestId, Seq, Timestamp, UserId};

    use super::{StoredChange, StoredContent};

    // The expected strings below were copied from `serde_json` of the wire
    // types as the store wrote them before it had its own types: storage
    // encoding version 1. They are data on disk; never edit one.

    fn check_content(wire: MessageContent, stored_json: &str) {
        let stored = StoredContent::from(&wire);
        assert_eq!(
            serde_json::to_string(&stored).expect("encodes"),
            stored_json
        );
        let read: StoredContent = serde_json::from_str(stored_json).expect("decodes");
        assert_eq!(read, stored);
        assert_eq!(MessageContent::from(read), wire);
    }

    fn check_change(wire: UserChange, stored_json: &str) {
        let stored = StoredChange::from(&wire);
        assert_eq!(
            serde_json::to_string(&stored).expect("encodes"),
            stored_json
        );
        let read: StoredChange = serde_json::from_str(stored_json).expect("decodes");
        assert_eq!(read, stored);
        assert_eq!(UserChange::from(read), wire);
    }

    fn media() -> MediaRef {
        MediaRef {
            media_id: "m1".into(),
            mime: "image/png".into(),
            size: 2048,
            name: Some("a.png".into()),
            width: Some(640),
            height: Some(480),
            duration_ms: Some(1500),
        }
    }

    fn bare_media() -> MediaRef {
        MediaRef {
            media_id: "m2".into(),
            mime: "application/pdf".into(),
            size: 9,
            name: None,
            width: None,
            height: None,
            duration_ms: None,
        }
    }

    fn system(event: SystemEvent) -> MessageContent {
        MessageContent::System { event }
    }

    #[test]
    fn every_content_keeps_its_version_1_json() {
        check_content(
            MessageContent::Text { text: "hi".into() },
            r#"{"kind":"text","text":"hi"}"#,
        );
        check_content(
            MessageContent::Image { media: media() },
            r#"{"kind":"image","media":{"media_id":"m1","mime":"image/png","size":2048,"name":"a.png","width":640,"height":480,"duration_ms":1500}}"#,
        );
        check_content(
            MessageContent::Voice {
                media: bare_media(),
            },
            r#"{"kind":"voice","media":{"media_id":"m2","mime":"application/pdf","size":9}}"#,
        );
        check_content(
            MessageContent::Video { media: media() },
            r#"{"kind":"video","media":{"media_id":"m1","mime":"image/png","size":2048,"name":"a.png","width":640,"height":480,"duration_ms":1500}}"#,
        );
        check_content(
            MessageContent::File {
                media: bare_media(),
            },
            r#"{"kind":"file","media":{"media_id":"m2","mime":"application/pdf","size":9}}"#,
        );
        check_content(
            MessageContent::Sticker {
                pack: "p".into(),
                sticker: "s".into(),
            },
            r#"{"kind":"sticker","pack":"p","sticker":"s"}"#,
        );
        check_content(
            system(SystemEvent::GroupCreated {
                by: UserId(1),
                name: "g".into(),
            }),
            r#"{"kind":"system","event":{"type":"group_created","by":1,"name":"g"}}"#,
        );
        check_content(
            system(SystemEvent::MembersAdded {
                by: UserId(1),
                users: vec![UserId(2), UserId(3)],
            }),
            r#"{"kind":"system","event":{"type":"members_added","by":1,"users":[2,3]}}"#,
        );
        check_content(
            system(SystemEvent::MemberRemoved {
                by: UserId(1),
                user: UserId(2),
            }),
            r#"{"kind":"system","event":{"type":"member_removed","by":1,"user":2}}"#,
        );
        check_content(
            system(SystemEvent::MemberLeft { user: UserId(2) }),
            r#"{"kind":"system","event":{"type":"member_left","user":2}}"#,
        );
        check_content(
            system(SystemEvent::Renamed {
                by: UserId(1),
                name: "h".into(),
            }),
            r#"{"kind":"system","event":{"type":"renamed","by":1,"name":"h"}}"#,
        );
        check_content(
            system(SystemEvent::AnnouncementSet {
                by: UserId(1),
                text: "t".into(),
            }),
            r#"{"kind":"system","event":{"type":"announcement_set","by":1,"text":"t"}}"#,
        );
        for (role, name) in [
            (Role::Member, "member"),
            (Role::Admin, "admin"),
            (Role::Owner, "owner"),
        ] {
            check_content(
                system(SystemEvent::RoleChanged {
                    by: UserId(1),
                    user: UserId(2),
                    role,
                }),
                &format!(
                    r#"{{"kind":"system","event":{{"type":"role_changed","by":1,"user":2,"role":"{name}"}}}}"#
                ),
            );
        }
        check_content(
            system(SystemEvent::OwnershipTransferred {
                from: UserId(1),
                to: UserId(2),
            }),
            r#"{"kind":"system","event":{"type":"ownership_transferred","from":1,"to":2}}"#,
        );
        check_content(
            MessageContent::Encrypted { mls: "AAEC".into() },
            r#"{"kind":"encrypted","mls":"AAEC"}"#,
        );
    }

    fn profile(id: i64, name: &str, display_name: &str, created_at: i64) -> UserProfile {
        UserProfile {
            id: UserId(id),
            username: name.into(),
            display_name: display_name.into(),
            created_at: Timestamp(created_at),
        }
    }

    fn request(status: FriendRequestStatus, updated_at: i64) -> FriendRequest {
        FriendRequest {
            id: FriendRequestId(5),
            from: profile(1, "ada", "Ada", 100),
            to: profile(2, "bob", "bob", 200),
            greeting: "hello".into(),
            status,
            created_at: Timestamp(300),
            updated_at: Timestamp(updated_at),
        }
    }

    fn bob_as_friend(online: bool) -> Friend {
        Friend {
            user: profile(2, "bob", "bob", 200),
            remark: Some("B".into()),
            since: Timestamp(400),
            online,
            last_seen_at: Some(Timestamp(350)),
            conversation_id: ConversationId(9),
        }
    }

    const ADA_AND_BOB: &str = r#""from":{"id":1,"username":"ada","display_name":"Ada","created_at":100},"to":{"id":2,"username":"bob","display_name":"bob","created_at":200}"#;

    #[test]
    fn every_change_keeps_its_version_1_json() {
        check_change(
            UserChange::FriendRequestReceived {
                request: request(FriendRequestStatus::Pending, 300),
            },
            &format!(
                r#"{{"type":"friend_request_received","request":{{"id":5,{ADA_AND_BOB},"greeting":"hello","status":"pending","created_at":300,"updated_at":300}}}}"#
            ),
        );
        for (status, name) in [
            (FriendRequestStatus::Pending, "pending"),
            (FriendRequestStatus::Accepted, "accepted"),
            (FriendRequestStatus::Declined, "declined"),
            (FriendRequestStatus::Cancelled, "cancelled"),
        ] {
            check_change(
                UserChange::FriendRequestUpdated {
                    request: request(status, 400),
                },
                &format!(
                    r#"{{"type":"friend_request_updated","request":{{"id":5,{ADA_AND_BOB},"greeting":"hello","status":"{name}","created_at":300,"updated_at":400}}}}"#
                ),
            );
        }
        // Version 1 without the `online` placeholder (see the next test).
        check_change(
            UserChange::FriendAdded {
                friend: bob_as_friend(false),
            },
            r#"{"type":"friend_added","friend":{"user":{"id":2,"username":"bob","display_name":"bob","created_at":200},"remark":"B","since":400,"last_seen_at":350,"conversation_id":9}}"#,
        );
        check_change(
            UserChange::FriendRemoved { user_id: UserId(2) },
            r#"{"type":"friend_removed","user_id":2}"#,
        );
        check_change(
            UserChange::FriendUpdated {
                user_id: UserId(2),
                remark: None,
            },
            r#"{"type":"friend_updated","user_id":2,"remark":null}"#,
        );
        check_change(
            UserChange::BlockChanged {
                user_id: UserId(2),
                blocked: true,
            },
            r#"{"type":"block_changed","user_id":2,"blocked":true}"#,
        );
        check_change(
            UserChange::ConversationJoined {
                conversation_id: ConversationId(9),
            },
            r#"{"type":"conversation_joined","conversation_id":9}"#,
        );
        check_change(
            UserChange::ConversationLeft {
                conversation_id: ConversationId(9),
                removed_by: Some(UserId(1)),
            },
            r#"{"type":"conversation_left","conversation_id":9,"removed_by":1}"#,
        );
        check_change(
            UserChange::ReadPosition {
                conversation_id: ConversationId(9),
                read_seq: Seq(12),
            },
            r#"{"type":"read_position","conversation_id":9,"read_seq":12}"#,
        );
        check_change(
            UserChange::ProfileUpdated {
                display_name: "Ada L".into(),
            },
            r#"{"type":"profile_updated","display_name":"Ada L"}"#,
        );
    }

    #[test]
    fn a_friend_added_row_with_the_old_online_placeholder_still_decodes() {
        // Exactly what the store wrote before it had its own types.
        let old = r#"{"type":"friend_added","friend":{"user":{"id":2,"username":"bob","display_name":"bob","created_at":200},"remark":"B","since":400,"online":false,"last_seen_at":350,"conversation_id":9}}"#;
        let read: StoredChange = serde_json::from_str(old).expect("decodes");
        assert_eq!(
            UserChange::from(read),
            UserChange::FriendAdded {
                friend: bob_as_friend(false)
            }
        );
    }

    #[test]
    fn presence_is_not_kept() {
        let stored = StoredChange::from(&UserChange::FriendAdded {
            friend: bob_as_friend(true),
        });
        assert!(
            !serde_json::to_string(&stored)
                .expect("encodes")
                .contains("online")
        );
        assert_eq!(
            UserChange::from(stored),
            UserChange::FriendAdded {
                friend: bob_as_friend(false)
            }
        );
    }

    /// Every content and change of the fixture written by release 800a551
    /// decodes, and the fixture holds the kinds the upgrade test relies on.
    #[test]
    fn every_row_of_the_release_800a551_fixture_decodes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/release-800a551.db"
        );
        let conn =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("opens the fixture");
        let texts = |sql: &str| -> Vec<String> {
            let mut stmt = conn.prepare(sql).expect("prepares");
            stmt.query_map([], |row| row.get(0))
                .expect("queries")
                .collect::<Result<_, _>>()
                .expect("reads")
        };
        let mut kinds = std::collections::BTreeSet::new();
        for json in texts("SELECT content FROM messages") {
            let content: StoredContent =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            let again = serde_json::to_string(&content).expect("encodes");
            assert_eq!(again, json, "a version 1 row encodes back to itself");
            kinds.insert(MessageContent::from(content).kind().to_owned());
        }
        let mut changes = std::collections::BTreeSet::new();
        for json in texts("SELECT change FROM user_events") {
            let change: StoredChange =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            let value: serde_json::Value = serde_json::from_str(&json).expect("is JSON");
            let name = value["type"].as_str().unwrap_or_default().to_owned();
            // The friend_added rows differ by the dropped placeholder only.
            let again = serde_json::to_string(&change).expect("encodes");
            if name != "friend_added" {
                assert_eq!(again, json, "a version 1 row encodes back to itself");
            }
            changes.insert(name);
        }
        assert!(kinds.contains("text") && kinds.contains("system"));
        assert!(changes.contains("friend_added") && changes.contains("profile_updated"));
    }
}
