//! `ProviderRegistry`: owns providers, redirects and one `KeyPool` per provider; resolves a
//! requested model to the ordered list of providers to try.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::key_pool::{KeyPool, SetKeys};
use crate::error::ApiError;
use crate::routing::model_name::{any_match, split_provider};
use crate::routing::strategy::order;
use crate::secrets::MasterKey;
use crate::settings::RoutingSettings;
use crate::store::providers::{
    self as store, AddedKey, KeyPatch, NewKey, NewProvider, ProviderPatch, ProviderRecord,
    RedirectRecord, Snapshot,
};

/// A provider as routing sees it.
#[derive(Debug)]
pub struct ProviderInfo {
    pub record: ProviderRecord,
    pub key_count: usize,
    pub enabled_key_count: usize,
}

impl ProviderInfo {
    fn serves(&self, model: &str) -> bool {
        any_match(self.record.models.as_deref(), model)
    }
}

struct ProviderEntry {
    info: Arc<ProviderInfo>,
    pool: Addr<KeyPool>,
}

/// One provider that can serve a call, with the model name it must be sent.
#[derive(Clone)]
pub struct Candidate {
    pub provider: Arc<ProviderInfo>,
    pub upstream_model: String,
    pub pool: Addr<KeyPool>,
}

/// The result of routing a requested model name.
pub struct Route {
    /// The name the client sent.
    pub requested: String,
    /// The provider named by a `provider/` prefix, if any.
    pub explicit_provider: Option<String>,
    /// The requested name without that prefix (what allow-lists match).
    pub bare: String,
    /// The model after global redirects (before per-provider ones).
    pub model: String,
    /// Providers to try, in strategy order.
    pub candidates: Vec<Candidate>,
}

pub struct ProviderRegistry {
    db: DatabaseConnection,
    master: MasterKey,
    routing: RoutingSettings,
    sync_interval: Duration,
    providers: Vec<ProviderEntry>,
    by_name: HashMap<String, usize>,
    redirects: Vec<RedirectRecord>,
    global_redirects: HashMap<String, String>,
    provider_redirects: HashMap<(String, String), String>,
    counters: HashMap<String, u64>,
    pools: HashMap<i32, Addr<KeyPool>>,
    next_seq: u64,
    applied_seq: u64,
    fingerprint: Option<String>,
    syncing: bool,
}

impl ProviderRegistry {
    /// Builds the registry from an initial snapshot (read before the server starts).
    pub fn new(
        db: DatabaseConnection,
        master: MasterKey,
        routing: RoutingSettings,
        sync_interval: Duration,
    ) -> ProviderRegistry {
        ProviderRegistry {
            db,
            master,
            routing,
            sync_interval,
            providers: Vec::new(),
            by_name: HashMap::new(),
            redirects: Vec::new(),
            global_redirects: HashMap::new(),
            provider_redirects: HashMap::new(),
            counters: HashMap::new(),
            pools: HashMap::new(),
            next_seq: 1,
            applied_seq: 0,
            fingerprint: None,
            syncing: false,
        }
    }

    fn apply(&mut self, snapshot: Snapshot) {
        let mut keys_by_provider: HashMap<i32, Vec<_>> = HashMap::new();
        for key in snapshot.keys {
            keys_by_provider
                .entry(key.provider_id)
                .or_default()
                .push(key);
        }
        let mut pools = std::mem::take(&mut self.pools);
        let mut providers = Vec::with_capacity(snapshot.providers.len());
        for record in snapshot.providers {
            let keys = keys_by_provider.remove(&record.id).unwrap_or_default();
            let pool = pools.remove(&record.id).unwrap_or_else(|| {
                KeyPool::new(
                    record.name.clone(),
                    self.routing.key_strategy,
                    Duration::from_secs(self.routing.cooldown_secs),
                )
                .start()
            });
            let info = ProviderInfo {
                key_count: keys.len(),
                enabled_key_count: keys.iter().filter(|k| k.enabled).count(),
                record,
            };
            pool.do_send(SetKeys {
                provider: info.record.name.clone(),
                keys,
            });
            providers.push(ProviderEntry {
                info: Arc::new(info),
                pool,
            });
        }
        // Pools left in `pools` belong to deleted providers: dropping the address stops them.
        self.pools = providers
            .iter()
            .map(|p| (p.info.record.id, p.pool.clone()))
            .collect();
        self.by_name = providers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.info.record.name.clone(), i))
            .collect();
        self.providers = providers;
        self.global_redirects.clear();
        self.provider_redirects.clear();
        for r in &snapshot.redirects {
            match &r.provider {
                None => {
                    self.global_redirects
                        .insert(r.source.clone(), r.target.clone());
                }
                Some(p) => {
                    self.provider_redirects
                        .insert((p.clone(), r.source.clone()), r.target.clone());
                }
            }
        }
        self.redirects = snapshot.redirects;
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
        let fut = op(self.db.clone(), self.master.clone());
        Box::pin(fut.into_actor(self).then(|res, act, _| {
            let reload = act.reload();
            reload.map(move |reloaded, _, _| {
                let value = res?;
                reloaded?;
                Ok(value)
            })
        }))
    }

    /// Reloads when the routing tables changed (here or on another instance).
    fn sync(&mut self, ctx: &mut Context<Self>) {
        if self.syncing {
            return;
        }
        self.syncing = true;
        let db = self.db.clone();
        async move { store::fingerprint(&db).await }
            .into_actor(self)
            .then(|res, act, _| {
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
            .map(|res, act, _| {
                act.syncing = false;
                if let Err(e) = res {
                    log::warn!("provider sync failed: {e}");
                }
            })
            .spawn(ctx);
    }

    fn redirect_global(&self, model: &str) -> String {
        self.global_redirects
            .get(model)
            .cloned()
            .unwrap_or_else(|| model.to_string())
    }

    fn redirect_for(&self, provider: &str, model: &str) -> String {
        self.provider_redirects
            .get(&(provider.to_string(), model.to_string()))
            .cloned()
            .unwrap_or_else(|| model.to_string())
    }

    /// The providers able to serve `requested`, unordered (no side effects).
    fn route(&self, requested: &str) -> Result<Route, ApiError> {
        let (explicit, bare) = split_provider(requested, |p| self.by_name.contains_key(p));
        let model = self.redirect_global(bare);
        let mut candidates = Vec::new();
        let indices: Vec<usize> = match explicit {
            Some(name) => vec![self.by_name[name]],
            None => (0..self.providers.len()).collect(),
        };
        let mut any_serving = false;
        for i in indices {
            let entry = &self.providers[i];
            let name = &entry.info.record.name;
            let upstream_model = self.redirect_for(name, &model);
            if !(entry.info.serves(&upstream_model) || entry.info.serves(&model)) {
                continue;
            }
            any_serving = true;
            if entry.info.record.enabled {
                candidates.push(Candidate {
                    provider: entry.info.clone(),
                    upstream_model,
                    pool: entry.pool.clone(),
                });
            }
        }
        if !any_serving {
            return Err(ApiError::NotFound(match explicit {
                Some(p) => format!("provider '{p}' does not serve model '{model}'"),
                None => format!("no provider serves model '{model}'"),
            }));
        }
        if candidates.is_empty() {
            return Err(ApiError::NoUpstream(format!(
                "every provider serving model '{model}' is disabled"
            )));
        }
        Ok(Route {
            requested: requested.to_string(),
            explicit_provider: explicit.map(str::to_string),
            bare: bare.to_string(),
            model,
            candidates,
        })
    }

    /// Routes `requested` and orders the candidates by the provider strategy.
    fn resolve(&mut self, requested: &str) -> Result<Route, ApiError> {
        let mut route = self.route(requested)?;
        let weights: Vec<u32> = route
            .candidates
            .iter()
            .map(|c| c.provider.record.weight)
            .collect();
        let counter = self.counters.entry(route.model.clone()).or_insert(0);
        let ordered = order(self.routing.provider_strategy, &weights, counter);
        route.candidates = ordered
            .into_iter()
            .map(|i| route.candidates[i].clone())
            .collect();
        Ok(route)
    }

    fn entry(&self, name: &str) -> Result<&ProviderEntry, ApiError> {
        self.by_name
            .get(name)
            .map(|&i| &self.providers[i])
            .ok_or_else(|| ApiError::NotFound(format!("provider '{name}' not found")))
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

/// Loads the current state and waits until it is applied (used at start-up).
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
#[rtype(result = "Result<Route, ApiError>")]
pub struct Resolve {
    pub model: String,
}

impl Handler<Resolve> for ProviderRegistry {
    type Result = MessageResult<Resolve>;

    fn handle(&mut self, msg: Resolve, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.resolve(&msg.model))
    }
}

/// One entry of `/v1/models`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    pub id: String,
    pub owned_by: String,
    /// The provider that serves it, and the model name without prefix (for allow-lists).
    pub provider: String,
    pub model: String,
}

/// Every model name an enabled provider lists explicitly (globs cannot be enumerated):
/// `provider/model` and the bare name.
#[derive(Message)]
#[rtype(result = "Vec<ModelEntry>")]
pub struct ListModels;

impl Handler<ListModels> for ProviderRegistry {
    type Result = MessageResult<ListModels>;

    fn handle(&mut self, _: ListModels, _: &mut Context<Self>) -> Self::Result {
        let mut out = Vec::new();
        let mut bare_seen = std::collections::HashSet::new();
        for entry in self.providers.iter().filter(|p| p.info.record.enabled) {
            let record = &entry.info.record;
            for model in record.models.iter().flatten().filter(|m| !m.contains('*')) {
                let entry = |id: String| ModelEntry {
                    id,
                    owned_by: record.name.clone(),
                    provider: record.name.clone(),
                    model: model.clone(),
                };
                out.push(entry(format!("{}/{}", record.name, model)));
                if bare_seen.insert(model.clone()) {
                    out.push(entry(model.clone()));
                }
            }
        }
        let sources: Vec<String> = self.global_redirects.keys().cloned().collect();
        for source in sources {
            if !bare_seen.insert(source.clone()) {
                continue;
            }
            if let Ok(route) = self.route(&source) {
                let provider = route.candidates[0].provider.record.name.clone();
                out.push(ModelEntry {
                    id: source.clone(),
                    owned_by: provider.clone(),
                    provider,
                    model: source,
                });
            }
        }
        MessageResult(out)
    }
}

#[derive(Message)]
#[rtype(result = "Vec<Arc<ProviderInfo>>")]
pub struct ListProviders;

impl Handler<ListProviders> for ProviderRegistry {
    type Result = MessageResult<ListProviders>;

    fn handle(&mut self, _: ListProviders, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.providers.iter().map(|p| p.info.clone()).collect())
    }
}

/// A provider and its pool, for the admin API.
#[derive(Message)]
#[rtype(result = "Result<(Arc<ProviderInfo>, Addr<KeyPool>), ApiError>")]
pub struct GetProvider {
    pub name: String,
}

impl Handler<GetProvider> for ProviderRegistry {
    type Result = MessageResult<GetProvider>;

    fn handle(&mut self, msg: GetProvider, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.entry(&msg.name)
                .map(|e| (e.info.clone(), e.pool.clone())),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Result<Arc<ProviderInfo>, ApiError>")]
pub struct CreateProvider(pub NewProvider);

impl Handler<CreateProvider> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<Arc<ProviderInfo>, ApiError>>;

    fn handle(&mut self, msg: CreateProvider, _: &mut Context<Self>) -> Self::Result {
        let name = msg.0.name.clone();
        if self.by_name.contains_key(&name) {
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
            act.entry(&name).map(|e| e.info.clone())
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
            act.entry(&name).map(|e| e.info.clone())
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

/// The stored form of a new key: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct AddedKeyView {
    pub id: i32,
    pub masked_key: String,
    pub description: Option<String>,
    pub weight: i32,
    pub enabled: bool,
}

#[derive(Message)]
#[rtype(result = "Result<AddedKeyView, ApiError>")]
pub struct AddKey {
    pub provider: String,
    pub key: NewKey,
}

impl Handler<AddKey> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<AddedKeyView, ApiError>>;

    fn handle(&mut self, msg: AddKey, _: &mut Context<Self>) -> Self::Result {
        self.write(move |db, master| async move {
            match store::insert_key(&db, &master, &msg.provider, &msg.key).await {
                Ok(AddedKey::Added(k)) => Ok(AddedKeyView {
                    id: k.id,
                    masked_key: k.masked_key,
                    description: k.description,
                    weight: k.weight,
                    enabled: k.enabled,
                }),
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
            match store::update_key(&db, &msg.provider, msg.key_id, &msg.patch).await {
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
            match store::delete_key(&db, &msg.provider, msg.key_id).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::NotFound(format!("key {} not found", msg.key_id))),
                Err(e) => Err(ApiError::internal("cannot delete key", e)),
            }
        })
    }
}

#[derive(Message)]
#[rtype(result = "Vec<RedirectRecord>")]
pub struct ListRedirects;

impl Handler<ListRedirects> for ProviderRegistry {
    type Result = MessageResult<ListRedirects>;

    fn handle(&mut self, _: ListRedirects, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.redirects.clone())
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct PutRedirect(pub RedirectRecord);

impl Handler<PutRedirect> for ProviderRegistry {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: PutRedirect, _: &mut Context<Self>) -> Self::Result {
        if let Some(p) = &msg.0.provider {
            if !self.by_name.contains_key(p) {
                return Box::pin(fut::ready(Err(ApiError::NotFound(format!(
                    "provider '{p}' not found"
                )))));
            }
        }
        self.write(move |db, _| async move {
            store::upsert_redirect(&db, &msg.0)
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
            match store::delete_redirect(&db, msg.provider.as_deref(), &msg.source).await {
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
