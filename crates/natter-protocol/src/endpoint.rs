//! HTTP endpoints, declared once and used by the server's router and the SDK.

/// An HTTP method used by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The method's name as HTTP spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One route of the HTTP API. `path` uses `{name}` placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    /// Whether the route needs `Authorization: Bearer <token>`.
    pub auth: bool,
}

impl Endpoint {
    pub const fn new(method: Method, path: &'static str, auth: bool) -> Self {
        Endpoint { method, path, auth }
    }

    /// The path with each `{placeholder}` replaced, in order, by `args`.
    pub fn fill(&self, args: &[&dyn std::fmt::Display]) -> String {
        let mut out = String::with_capacity(self.path.len() + 16);
        let mut args = args.iter();
        let mut rest = self.path;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .map_or(rest.len(), |e| start + e + 1);
            if let Some(arg) = args.next() {
                out.push_str(&arg.to_string());
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }
}

/// Every endpoint of the API, for route inventories and documentation tests.
pub const ALL_ENDPOINTS: &[Endpoint] = &[
    crate::accounts::REGISTER,
    crate::accounts::LOGIN,
    crate::accounts::LOGOUT,
    crate::accounts::GET_ME,
    crate::accounts::UPDATE_ME,
    crate::accounts::CHANGE_PASSWORD,
    crate::accounts::LIST_DEVICES,
    crate::accounts::REVOKE_DEVICE,
    crate::accounts::GET_USER,
    crate::contacts::SEARCH_USERS,
    crate::contacts::LIST_FRIENDS,
    crate::contacts::UPDATE_FRIEND,
    crate::contacts::REMOVE_FRIEND,
    crate::contacts::LIST_FRIEND_REQUESTS,
    crate::contacts::SEND_FRIEND_REQUEST,
    crate::contacts::ACCEPT_FRIEND_REQUEST,
    crate::contacts::DECLINE_FRIEND_REQUEST,
    crate::contacts::CANCEL_FRIEND_REQUEST,
    crate::contacts::LIST_BLOCKS,
    crate::contacts::BLOCK_USER,
    crate::contacts::UNBLOCK_USER,
    crate::conversations::LIST_CONVERSATIONS,
    crate::conversations::GET_CONVERSATION,
    crate::conversations::OPEN_DIRECT,
    crate::conversations::LIST_MESSAGES,
    crate::conversations::SEND_MESSAGE,
    crate::conversations::MARK_READ,
    crate::conversations::LIST_MEMBERS,
    crate::conversations::CREATE_GROUP,
    crate::conversations::UPDATE_GROUP,
    crate::conversations::INVITE_MEMBERS,
    crate::conversations::REMOVE_MEMBER,
    crate::conversations::SET_MEMBER_ROLE,
    crate::conversations::TRANSFER_OWNERSHIP,
    crate::sync::SYNC,
];
