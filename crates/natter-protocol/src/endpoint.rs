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

/// Declares [`ALL_ENDPOINTS`] and [`ENDPOINT_NAMES`] from one list, so that
/// the names the web client's generated table uses cannot drift from it.
macro_rules! endpoint_table {
    ($($module:ident::$name:ident),* $(,)?) => {
        /// Every endpoint of the API, for route inventories and documentation tests.
        pub const ALL_ENDPOINTS: &[Endpoint] = &[$(crate::$module::$name),*];
        /// The constant's name of each of [`ALL_ENDPOINTS`], in the same order.
        pub const ENDPOINT_NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

endpoint_table!(
    accounts::REGISTER,
    accounts::LOGIN,
    accounts::LOGOUT,
    accounts::GET_ME,
    accounts::UPDATE_ME,
    accounts::CHANGE_PASSWORD,
    accounts::LIST_DEVICES,
    accounts::REVOKE_DEVICE,
    accounts::GET_USER,
    contacts::SEARCH_USERS,
    contacts::LIST_FRIENDS,
    contacts::UPDATE_FRIEND,
    contacts::REMOVE_FRIEND,
    contacts::LIST_FRIEND_REQUESTS,
    contacts::SEND_FRIEND_REQUEST,
    contacts::ACCEPT_FRIEND_REQUEST,
    contacts::DECLINE_FRIEND_REQUEST,
    contacts::CANCEL_FRIEND_REQUEST,
    contacts::LIST_BLOCKS,
    contacts::BLOCK_USER,
    contacts::UNBLOCK_USER,
    conversations::LIST_CONVERSATIONS,
    conversations::GET_CONVERSATION,
    conversations::OPEN_DIRECT,
    conversations::LIST_MESSAGES,
    conversations::SEND_MESSAGE,
    conversations::MARK_READ,
    conversations::LIST_MEMBERS,
    conversations::CREATE_GROUP,
    conversations::UPDATE_GROUP,
    conversations::INVITE_MEMBERS,
    conversations::REMOVE_MEMBER,
    conversations::SET_MEMBER_ROLE,
    conversations::TRANSFER_OWNERSHIP,
    sync::SYNC,
);
