//! natter-testkit
