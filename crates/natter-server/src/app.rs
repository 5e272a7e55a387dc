//! The composition root: builds every service once, in dependency order.
//!
//! Order (each may use only those above it): rate limits → publisher → presence →
//! accounts → contacts → conversations → sync → gateway.

use std::ops::Deref;
use std::sync::Arc;

use natter_bus::Bus;
use natter_store::Store;

use crate::accounts::AccountService;
use crate::backends::Backends;
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
    pub contacts: Arc<ContactService>,
    pub conversations: ConversationService,
    pub sync: SyncService,
    pub presence: Arc<PresenceService>,
    pub gateway: Gateway,
    pub limits: Arc<RateLimits>,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
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
    pub fn build(config: &Config, backends: &Backends) -> AppState {
        let store = backends.store.clone();
        let bus = backends.bus.clone();
        let presence = backends.presence.clone();
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
            store.clone(),
            publisher.clone(),
            config.accounts.clone(),
            limits.clone(),
        );
        let contacts = Arc::new(ContactService::new(
            store.clone(),
            presence.clone(),
            publisher.clone(),
            limits.clone(),
            &config.contacts,
        ));
        let conversations = ConversationService::new(
            store.clone(),
            contacts.clone(),
            publisher,
            config.groups.clone(),
            limits.clone(),
        );
        let sync = SyncService::new(
            store.clone(),
            presence.clone(),
            config.sync.clone(),
            limits.clone(),
        );
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
            store,
            bus,
        }))
    }

    /// Whether this node can serve: the store answers (within 2 s) and the
    /// bus is connected. The cause when not.
    pub async fn health(&self) -> Result<(), String> {
        let answered = tokio::time::timeout(HEALTH_TIMEOUT, self.store.ping()).await;
        match answered {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(format!("store: {error}")),
            Err(_) => return Err("store: no answer within 2 s".into()),
        }
        self.bus.health().map_err(|error| format!("bus: {error}"))
    }
}

const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
