//! The composition root: builds every service once, in dependency order.
//!
//! Order (each may use only those above it): rate limits → publisher → presence →
//! accounts → contacts → conversations → sync → gateway.

use std::ops::Deref;
use std::sync::Arc;

use natter_bus::{Bus, Presence};
use natter_store::Store;

use crate::accounts::AccountService;
use crate::config::Config;
use crate::contacts::ContactService;
use crate::conversations::ConversationService;
use crate::events::Publisher;
use crate::gateway::Gateway;
use crate::limits::RateLimits;
use crate::presence::PresenceService;
use crate::sync::SyncService;

pub struct App {
    pub accounts: AccountService,
    pub contacts: ContactService,
    pub conversations: ConversationService,
    pub sync: SyncService,
    pub presence: Arc<PresenceService>,
    pub gateway: Gateway,
    pub limits: Arc<RateLimits>,
}

/// Cheap-to-clone handle to the services, shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    pub fn build(
        config: &Config,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        presence: Arc<dyn Presence>,
    ) -> AppState {
        let limits = Arc::new(RateLimits::new(&config.limits));
        let publisher = Arc::new(Publisher::new(bus.clone()));
        let presence = Arc::new(PresenceService::new(
            presence,
            store.clone(),
            store.clone(),
            publisher.clone(),
        ));
        let accounts = AccountService::new(
            store.clone(),
            publisher.clone(),
            config.accounts.clone(),
            limits.clone(),
        );
        let contacts = ContactService::new(
            store.clone(),
            presence.clone(),
            publisher.clone(),
            limits.clone(),
        );
        let conversations = ConversationService::new(
            store.clone(),
            store.clone(),
            publisher,
            config.contacts.clone(),
            config.groups.clone(),
            limits.clone(),
        );
        let sync = SyncService::new(store, config.sync.clone(), limits.clone());
        let https = config.http.tls_cert.is_some();
        let gateway = Gateway::new(config.gateway.clone(), limits.clone(), https);
        bus.subscribe(gateway.hub.clone());
        AppState(Arc::new(App {
            accounts,
            contacts,
            conversations,
            sync,
            presence,
            gateway,
            limits,
        }))
    }
}
