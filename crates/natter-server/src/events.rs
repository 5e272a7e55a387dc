//! Publishing committed changes to the bus: each event is serialized once and the
//! same bytes go to every recipient.

use std::sync::Arc;

use bytes::Bytes;
use natter_bus::{Audience, Bus, BusMessage};
use natter_protocol::conversations::Message;
use natter_protocol::ws::{Event, ServerFrame};
use natter_protocol::{DeviceId, UserId};
use natter_store::Changes;

/// Turns committed changes into bus messages. Call only after the store returned.
pub struct Publisher {
    bus: Arc<dyn Bus>,
}

impl Publisher {
    pub fn new(bus: Arc<dyn Bus>) -> Publisher {
        Publisher { bus }
    }

    /// Publishes everything a store write changed. `origin` is the device that
    /// caused it, which already knows.
    pub async fn changes(&self, changes: Changes, origin: Option<DeviceId>) {
        for (message, members) in changes.messages {
            self.message(message, members, origin).await;
        }
        for (user, event) in changes.user_events {
            self.event(Arc::from([user]), Event::User { event }, origin)
                .await;
        }
    }

    pub async fn message(
        &self,
        message: Message,
        members: Arc<[UserId]>,
        origin: Option<DeviceId>,
    ) {
        self.event(members, Event::Message { message }, origin)
            .await;
    }

    pub async fn event(&self, users: Arc<[UserId]>, event: Event, origin: Option<DeviceId>) {
        if users.is_empty() {
            return;
        }
        let frame = match serde_json::to_vec(&ServerFrame::Event { event }) {
            Ok(bytes) => Bytes::from(bytes),
            Err(error) => {
                tracing::error!(%error, "cannot serialize an event");
                return;
            }
        };
        self.publish(BusMessage::Deliver {
            to: Audience::Users(users),
            except: origin,
            frame,
        })
        .await;
    }

    /// Closes the live connections of these devices on every node.
    pub async fn disconnect(&self, user: UserId, devices: Vec<DeviceId>) {
        if !devices.is_empty() {
            self.publish(BusMessage::Disconnect {
                user,
                devices: devices.into(),
            })
            .await;
        }
    }

    async fn publish(&self, message: BusMessage) {
        // What failed to publish is still in the store: clients catch up through sync.
        if let Err(error) = self.bus.publish(message).await {
            tracing::warn!(%error, "bus publish failed; clients will catch up by sync");
        }
    }
}
