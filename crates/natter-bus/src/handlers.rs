//! The handlers registered on one node, shared by every bus backend.

use std::sync::{Arc, RwLock};

use crate::{BusHandler, BusMessage};

/// Copy-on-write list: delivery takes a snapshot and calls handlers with no
/// lock held, so a handler may itself subscribe without deadlocking.
#[derive(Default)]
pub(crate) struct Handlers {
    list: RwLock<Arc<[Arc<dyn BusHandler>]>>,
}

impl Handlers {
    pub(crate) fn add(&self, handler: Arc<dyn BusHandler>) {
        // The lock guards a pointer swap; a poisoned one still holds a valid list.
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        let mut grown: Vec<_> = list.iter().cloned().collect();
        grown.push(handler);
        *list = grown.into();
    }

    fn snapshot(&self) -> Arc<[Arc<dyn BusHandler>]> {
        self.list.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn handle(&self, message: &BusMessage) {
        for handler in self.snapshot().iter() {
            handler.handle(message);
        }
    }

    pub(crate) fn interrupted(&self) {
        for handler in self.snapshot().iter() {
            handler.interrupted();
        }
    }
}
