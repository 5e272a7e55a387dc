//! natter-server
