//! natter-store
