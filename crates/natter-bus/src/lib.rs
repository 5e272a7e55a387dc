//! natter-bus
