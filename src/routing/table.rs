//! `RoutingTable`: an immutable snapshot of providers, their key sets and redirects, built by
//! the `ProviderRegistry` on every change and read by request handlers without a message.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use dashmap::DashMap;

use super::keys::KeySet;
use crate::core::model_name::{any_match, split_provider};
use crate::core::strategy::{order, Strategy};
use crate::error::ApiError;
use crate::store::providers::{ProviderRecord, RedirectRecord};

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

pub struct ProviderEntry {
    pub info: Arc<ProviderInfo>,
    pub keys: Arc<KeySet>,
}

/// One provider that can serve a call, with the model name it must be sent.
#[derive(Clone)]
pub struct Candidate {
    pub provider: Arc<ProviderInfo>,
    pub upstream_model: String,
    pub keys: Arc<KeySet>,
    /// The model's largest output, once admission has looked it up.
    pub max_output: Option<i64>,
    /// The model is named exactly in the provider's list (or is a redirect's target): an
    /// admin chose it, so it may label metrics.
    pub listed: bool,
}

/// The result of routing a requested model name.
pub struct Route {
    /// The name the client sent.
    pub requested: String,
    /// The requested name without a provider prefix (what allow-lists match).
    pub bare: String,
    /// The model after global redirects (before per-provider ones).
    pub model: String,
    /// Providers to try, in strategy order.
    pub candidates: Vec<Candidate>,
}

/// One entry of `/v1/models`.
#[derive(Debug, Clone)]
pub struct ServedModel {
    pub id: String,
    /// The provider that serves it, and the model name without prefix (for allow-lists).
    pub provider: String,
    pub model: String,
}

#[derive(Default)]
pub struct RoutingTable {
    strategy: Option<Strategy>,
    providers: Vec<ProviderEntry>,
    by_name: HashMap<String, usize>,
    /// Exact model names → providers listing them.
    exact: HashMap<String, Vec<usize>>,
    /// Providers with a glob or no list: checked for every model.
    open: Vec<usize>,
    redirects: Vec<RedirectRecord>,
    global_redirects: HashMap<String, String>,
    provider_redirects: HashMap<String, HashMap<String, String>>,
    /// Redirect sources → providers with a per-provider redirect for them.
    redirect_sources: HashMap<String, Vec<usize>>,
    /// Round-robin position per model. Model names come from clients (any name reaches an
    /// open provider), so at most `MAX_COUNTERS` get their own; the rest share `overflow`.
    counters: DashMap<String, AtomicU64>,
    overflow: AtomicU64,
}

const MAX_COUNTERS: usize = 10_000;

/// The table in force, swapped whole on every change.
pub type SharedRouting = Arc<ArcSwap<RoutingTable>>;

impl RoutingTable {
    pub fn new(
        strategy: Strategy,
        providers: Vec<ProviderEntry>,
        redirects: Vec<RedirectRecord>,
    ) -> RoutingTable {
        let mut table = RoutingTable {
            strategy: Some(strategy),
            ..RoutingTable::default()
        };
        for (i, p) in providers.iter().enumerate() {
            table.by_name.insert(p.info.record.name.clone(), i);
            match &p.info.record.models {
                Some(list) if list.iter().all(|m| !m.contains('*')) => {
                    for m in list {
                        table.exact.entry(m.clone()).or_default().push(i);
                    }
                }
                _ => table.open.push(i),
            }
        }
        for r in &redirects {
            match &r.provider {
                None => {
                    table
                        .global_redirects
                        .insert(r.source.clone(), r.target.clone());
                }
                Some(p) => {
                    table
                        .provider_redirects
                        .entry(p.clone())
                        .or_default()
                        .insert(r.source.clone(), r.target.clone());
                    if let Some(&i) = table.by_name.get(p) {
                        table
                            .redirect_sources
                            .entry(r.source.clone())
                            .or_default()
                            .push(i);
                    }
                }
            }
        }
        table.providers = providers;
        table.redirects = redirects;
        table
    }

    pub fn providers(&self) -> impl Iterator<Item = &ProviderEntry> {
        self.providers.iter()
    }

    pub fn provider(&self, name: &str) -> Result<&ProviderEntry, ApiError> {
        self.by_name
            .get(name)
            .map(|&i| &self.providers[i])
            .ok_or_else(|| ApiError::NotFound(format!("provider '{name}' not found")))
    }

    pub fn redirects(&self) -> &[RedirectRecord] {
        &self.redirects
    }

    fn redirect_for<'a>(&'a self, provider: &str, model: &'a str) -> &'a str {
        self.provider_redirects
            .get(provider)
            .and_then(|m| m.get(model))
            .map_or(model, String::as_str)
    }

    /// The providers able to serve `requested`, unordered (no side effects).
    pub fn route(&self, requested: &str) -> Result<Route, ApiError> {
        let (explicit, bare) = split_provider(requested, |p| self.by_name.contains_key(p));
        let model = self.global_redirects.get(bare).map_or(bare, String::as_str);
        let indices: Vec<usize> = match explicit {
            Some(name) => vec![self.by_name[name]],
            None => {
                let mut v: Vec<usize> = self.open.clone();
                v.extend(self.exact.get(model).into_iter().flatten());
                v.extend(self.redirect_sources.get(model).into_iter().flatten());
                v.sort_unstable();
                v.dedup();
                v
            }
        };
        let mut candidates = Vec::with_capacity(indices.len());
        let mut any_serving = false;
        for i in indices {
            let entry = &self.providers[i];
            let upstream_model = self.redirect_for(&entry.info.record.name, model);
            if !(entry.info.serves(upstream_model) || entry.info.serves(model)) {
                continue;
            }
            any_serving = true;
            if entry.info.record.enabled {
                let listed = upstream_model != model
                    || entry.info.record.models.as_deref().is_some_and(|list| {
                        list.iter().any(|m| m == upstream_model && !m.contains('*'))
                    });
                candidates.push(Candidate {
                    provider: entry.info.clone(),
                    upstream_model: upstream_model.to_string(),
                    keys: entry.keys.clone(),
                    max_output: None,
                    listed,
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
            bare: bare.to_string(),
            model: model.to_string(),
            candidates,
        })
    }

    /// Routes `requested` and orders the candidates by the provider strategy.
    pub fn resolve(&self, requested: &str) -> Result<Route, ApiError> {
        let mut route = self.route(requested)?;
        if route.candidates.len() > 1 {
            let weights: Vec<u32> = route
                .candidates
                .iter()
                .map(|c| c.provider.record.weight)
                .collect();
            let mut counter = match self.counters.get(&route.model) {
                Some(c) => c.fetch_add(1, Ordering::Relaxed),
                None if self.counters.len() >= MAX_COUNTERS => {
                    self.overflow.fetch_add(1, Ordering::Relaxed)
                }
                None => self
                    .counters
                    .entry(route.model.clone())
                    .or_default()
                    .fetch_add(1, Ordering::Relaxed),
            };
            let strategy = self.strategy.unwrap_or(Strategy::RoundRobin);
            let ordered = order(strategy, &weights, &mut counter);
            route.candidates = ordered
                .into_iter()
                .map(|i| route.candidates[i].clone())
                .collect();
        }
        Ok(route)
    }

    /// Every model name an enabled provider lists explicitly (globs cannot be enumerated):
    /// `provider/model` and the bare name, plus redirect sources that route somewhere.
    /// The `*` patterns enabled providers serve, with their provider (a model list can
    /// name no model such a provider serves: the price book's names are matched instead).
    pub fn model_patterns(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .filter(|p| p.info.record.enabled)
            .flat_map(|entry| {
                let record = &entry.info.record;
                record
                    .models
                    .iter()
                    .flatten()
                    .filter(|m| m.contains('*'))
                    .map(|m| (record.name.clone(), m.clone()))
            })
            .collect()
    }

    pub fn models(&self) -> Vec<ServedModel> {
        let mut out = Vec::new();
        let mut bare_seen = HashSet::new();
        for entry in self.providers.iter().filter(|p| p.info.record.enabled) {
            let record = &entry.info.record;
            for model in record.models.iter().flatten().filter(|m| !m.contains('*')) {
                let entry = |id: String| ServedModel {
                    id,
                    provider: record.name.clone(),
                    model: model.clone(),
                };
                out.push(entry(format!("{}/{}", record.name, model)));
                if bare_seen.insert(model.clone()) {
                    out.push(entry(model.clone()));
                }
            }
        }
        for source in self.global_redirects.keys() {
            if !bare_seen.insert(source.clone()) {
                continue;
            }
            if let Ok(route) = self.route(source) {
                out.push(ServedModel {
                    id: source.clone(),
                    provider: route.candidates[0].provider.record.name.clone(),
                    model: source.clone(),
                });
            }
        }
        out
    }
}
