//! `ProviderRegistry`: owns providers, their key sets and model redirects. Every change
//! (through the admin API, settings, or another instance) is written to the database and
//! then published as a new `RoutingTable`, which request handlers read without a message.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use entity::provider_key;
use sea_orm::DatabaseConnection;

use crate::error::ApiError;
use crate::routing::keys::{CooldownFeed, KeyPolicy, KeySet};
use crate::routing::table::{ProviderEntry, ProviderInfo, RoutingTable, SharedRouting};
use crate::secrets::MasterKey;
use crate::settings::RoutingSettings;
use crate::store::changes::{self, Change};
use crate::store::provider_keys::{self, AddedKey, KeyPatch, NewKey};
use crate::store::providers::{
    self as store, NewProvider, ProviderPatch, RedirectRecord, Snapshot,
};
use crate::store::{cooldowns, redirects};
use crate::time::now_ms;

pub struct ProviderRegistry {
    db: DatabaseConnection,
    master: MasterKey,
    routing: RoutingSettings,
    sync_interval: Duration,
    shared: SharedRouting,
    next_seq: u64,
    applied_seq: u64,
    fingerprint: Option<String>,
    syncing: bool,
    /// A sync was asked for while one ran: run another when it ends.
    resync: bool,
    /// Cool-downs decided by this instance's key sets, shared on the next sync.
    cooldowns: Arc<CooldownFeed>,
}

impl ProviderRegistry {
    pub fn new(
        db: DatabaseConnection,
        master: MasterKey,
        routing: RoutingSettings,
        sync_interval: Duration,
        shared: SharedRouting,
    ) -> ProviderRegistry {
        ProviderRegistry {
            db,
            master,
            routing,
            sync_interval,
            shared,
            next_seq: 1,
            applied_seq: 0,
            fingerprint: None,
            cooldowns: Arc::new(CooldownFeed::default()),
            syncing: false,
            resync: false,
        }
    }

    fn table(&self) -> Arc<RoutingTable> {
        self.shared.load_full()
    }

    /// Builds and publishes a new table; key health carries over from the current one.
    fn apply(&mut self, snapshot: Snapshot) {
        let current = self.table();
        let mut keys_by_provider: HashMap<i32, Vec<_>> = HashMap::new();
        for key in snapshot.keys {
            keys_by_provider
                .entry(key.provider_id)
                .or_default()
                .push(key);
        }
        let mut entries = Vec::with_capacity(snapshot.providers.len());
        for record in snapshot.providers {
            let records = keys_by_provider.remove(&record.id).unwrap_or_default();
            let previous = current
                .provider(&record.name)
                .ok()
                .filter(|p| p.info.record.id == record.id)
                .map(|p| p.keys.clone());
            let keys = Arc::new(
                KeySet::new(
                    record.name.clone(),
                    self.routing.key_strategy,
                    KeyPolicy {
                        cooldown: Duration::from_secs(self.routing.cooldown_secs),
                        failure_threshold: self.routing.failure_threshold,
                        quota_cooldown: Duration::from_secs(self.routing.quota_cooldown_secs),
                    },
                    records,
                    previous.as_deref(),
                )
                .shared_through(self.cooldowns.clone()),
            );
            let info = ProviderInfo {
                key_count: keys.len(),
                enabled_key_count: keys.enabled_len(),
                record,
            };
            entries.push(ProviderEntry {
                info: Arc::new(info),
                keys,
            });
        }
        let table = RoutingTable::new(self.routing.provider_strategy, entries, snapshot.redirects);
        self.shared.store(Arc::new(table));
    }

    /// Loads a snapshot and applies it unless a newer one was applied meanwhile.
    fn reload(&mut self) -> impl ActorFuture<Self, Output = Result<(), ApiError>> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let (db, master) = (self.db.clone(), self.master.clone());
        async move { store::load_snapshot(&db, &master).await }
            .into_actor(self)
            .map(move |res, act, _| match res {
                Ok(snapshot) => {
                    if seq > act.applied_seq {
                        act.applied_seq = seq;
                        act.apply(snapshot);
                    }
                    Ok(())
                }
                Err(e) => Err(ApiError::internal("cannot load providers", e)),
            })
    }

    /// Runs a database write, then reloads so the change is in force when the caller hears back.
    fn write<T, F, Fut>(&mut self, op: F) -> ResponseActFuture<Self, Result<T, ApiError>>
    where
        T: 'static,
        F: FnOnce(DatabaseConnection, MasterKey) -> Fut,
        Fut: Future<Output = Result<T, ApiError>> + 'static,
    {
        let db = self.db.clone();
        let op = op(self.db.clone(), self.master.clone());
        let fut = async move {
            let res = op.await;
            if res.is_ok() {
                changes::announce(&db, Change::Routing).await;
            }
            res
        };
        Box::pin(fut.into_actor(self).then(|res, act, _| {
            let reload = act.reload();
            reload.map(move |reloaded, _, _| {
                let value = res?;
                reloaded?;
                Ok(value)
            })
        }))
    }

    /// Reloads when the routing tables changed (here or on another instance), and trades
    /// key cool-downs with the other instances: ours go to the database, theirs come back.
    fn sync(&mut self, ctx: &mut Context<Self>) {
        if self.syncing {
            self.resync = true;
            return;
        }
        self.syncing = true;
        let db = self.db.clone();
        let now = now_ms();
        // (key, cooled until): until 0 says a recovery probe found the key serving again.
        let (mut recovered, mut ours) = (Vec::new(), Vec::new());
        for (id, until) in self.cooldowns.take() {
            if until == 0 {
                recovered.push(id);
            } else if until > now {
                ours.push((id, until - now));
            }
        }
        async move {
            if !recovered.is_empty() {
                cooldowns::end_cooldowns(&db, &recovered).await?;
            }
            if !ours.is_empty() {
                cooldowns::share_cooldowns(&db, &ours).await?;
            }
            if !ours.is_empty() || !recovered.is_empty() {
                changes::announce(&db, Change::Routing).await;
            }
            let theirs = cooldowns::active_cooldowns(&db).await?;
            Ok::<_, sea_orm::DbErr>((store::fingerprint(&db).await?, theirs))
        }
        .into_actor(self)
        .then(|res, act, _| {
            let res = res.map(|(fp, theirs)| {
                let now = now_ms();
                let table = act.table();
                for (id, left) in theirs {
                    let until = now.saturating_add(left);
                    for p in table.providers() {
                        if p.keys.adopt_cooldown(id, until) {
                            break;
                        }
                    }
                }
                fp
            });
            let next: ResponseActFuture<Self, Result<(), ApiError>> = match res {
                Ok(fp) if act.fingerprint.as_ref() != Some(&fp) => {
                    act.fingerprint = Some(fp);
                    Box::pin(act.reload())
                }
                Ok(_) => Box::pin(fut::ready(Ok(()))),
                Err(e) => Box::pin(fut::ready(Err(ApiError::internal("sync check", e)))),
            };
            next
        })
        .map(|res, act, ctx| {
            act.syncing = false;
            if let Err(e) = res {
                log::warn!("provider sync failed: {e}");
            }
            if std::mem::take(&mut act.resync) {
                act.sync(ctx);
            }
        })
        .spawn(ctx);
    }

    fn info(&self, name: &str) -> Result<Arc<ProviderInfo>, ApiError> {
        self.table().provider(name).map(|p| p.info.clone())
    }
}

impl Actor for ProviderRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.sync_interval, |act, ctx| act.sync(ctx));
    }
}

fn db_err(context: &'static str) -> impl Fn(sea_orm::DbErr) -> ApiError {
    move |e| ApiError::internal(context, e)
}

/// Syncs now rather than at the next tick: another instance announced a change.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SyncRouting;

impl Handler<SyncRouting> for ProviderRegistry {
    type Result = ();

    fn handle(&mut self, _: SyncRouting, ctx: &mut Context<Self>) {
        self.sync(ctx);
    }
}

/// Loads the current state and waits until it is published (used at start-up).
#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct Reload;

impl Handler<Reload> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, _: Reload, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.reload())
    }
}

#[derive(Message)]
#[rtype(result = "Result<Arc<ProviderInfo>, ApiError>")]
pub struct CreateProvider(pub NewProvider);

impl Handler<CreateProvider> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<Arc<ProviderInfo>, ApiError>>;

    fn handle(&mut self, msg: CreateProvider, _: &mut Context<Self>) -> Self::Result {
        let name = msg.0.name.clone();
        if self.info(&name).is_ok() {
            return Box::pin(fut::ready(Err(ApiError::Conflict(format!(
                "provider '{name}' already exists"
            )))));
        }
        let write = self.write(move |db, _| async move {
            if store::find_provider(&db, &msg.0.name)
                .await
                .map_err(db_err("cannot read providers"))?
                .is_some()
            {
                return Err(ApiError::Conflict(format!(
                    "provider '{}' already exists",
                    msg.0.name
                )));
            }
            store::insert_provider(&db, &msg.0)
                .await
                .map_err(db_err("cannot create provider"))
        });
        Box::pin(write.map(move |res, act, _| {
            res?;
            act.info(&name)
        }))
    }
}

#[derive(Message)]
#[rtype(result = "Result<Arc<ProviderInfo>, ApiError>")]
pub struct UpdateProvider {
    pub name: String,
    pub patch: ProviderPatch,
}

impl Handler<UpdateProvider> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<Arc<ProviderInfo>, ApiError>>;

    fn handle(&mut self, msg: UpdateProvider, _: &mut Context<Self>) -> Self::Result {
        let name = msg.name.clone();
        let write = self.write(move |db, _| async move {
            match store::update_provider(&db, &msg.name, &msg.patch).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::NotFound(format!(
                    "provider '{}' not found",
                    msg.name
                ))),
                Err(e) => Err(ApiError::internal("cannot update provider", e)),
            }
        });
        Box::pin(write.map(move |res, act, _| {
            res?;
            act.info(&name)
        }))
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct DeleteProvider {
    pub name: String,
}

impl Handler<DeleteProvider> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: DeleteProvider, _: &mut Context<Self>) -> Self::Result {
        self.write(move |db, _| async move {
            match store::delete_provider(&db, &msg.name).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::NotFound(format!(
                    "provider '{}' not found",
                    msg.name
                ))),
                Err(e) => Err(ApiError::internal("cannot delete provider", e)),
            }
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<provider_key::Model, ApiError>")]
pub struct AddKey {
    pub provider: String,
    pub key: NewKey,
}

impl Handler<AddKey> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<provider_key::Model, ApiError>>;

    fn handle(&mut self, msg: AddKey, _: &mut Context<Self>) -> Self::Result {
        self.write(move |db, master| async move {
            match provider_keys::insert_key(&db, &master, &msg.provider, &msg.key).await {
                Ok(AddedKey::Added(k)) => Ok(k),
                Ok(AddedKey::NoProvider) => Err(ApiError::NotFound(format!(
                    "provider '{}' not found",
                    msg.provider
                ))),
                Ok(AddedKey::Duplicate) => Err(ApiError::Conflict(
                    "this key is already registered for the provider".into(),
                )),
                Err(e) => Err(ApiError::internal("cannot add key", e)),
            }
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct UpdateKey {
    pub provider: String,
    pub key_id: i32,
    pub patch: KeyPatch,
}

impl Handler<UpdateKey> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: UpdateKey, _: &mut Context<Self>) -> Self::Result {
        self.write(move |db, _| async move {
            match provider_keys::update_key(&db, &msg.provider, msg.key_id, &msg.patch).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::NotFound(format!("key {} not found", msg.key_id))),
                Err(e) => Err(ApiError::internal("cannot update key", e)),
            }
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct DeleteKey {
    pub provider: String,
    pub key_id: i32,
}

impl Handler<DeleteKey> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: DeleteKey, _: &mut Context<Self>) -> Self::Result {
        self.write(move |db, _| async move {
            match provider_keys::delete_key(&db, &msg.provider, msg.key_id).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::NotFound(format!("key {} not found", msg.key_id))),
                Err(e) => Err(ApiError::internal("cannot delete key", e)),
            }
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct PutRedirect(pub RedirectRecord);

impl Handler<PutRedirect> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: PutRedirect, _: &mut Context<Self>) -> Self::Result {
        if let Some(p) = &msg.0.provider {
            if self.info(p).is_err() {
                return Box::pin(fut::ready(Err(ApiError::NotFound(format!(
                    "provider '{p}' not found"
                )))));
            }
        }
        self.write(move |db, _| async move {
            redirects::upsert_redirect(&db, &msg.0)
                .await
                .map_err(db_err("cannot save redirect"))
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct DeleteRedirect {
    pub provider: Option<String>,
    pub source: String,
}

impl Handler<DeleteRedirect> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: DeleteRedirect, _: &mut Context<Self>) -> Self::Result {
        self.write(move |db, _| async move {
            match redirects::delete_redirect(&db, msg.provider.as_deref(), &msg.source).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::NotFound(format!(
                    "no redirect for '{}'",
                    msg.source
                ))),
                Err(e) => Err(ApiError::internal("cannot delete redirect", e)),
            }
        })
    }
}
