//! `ResponseStore`: owns the stored Responses-API responses — saves finished responses,
//! loads a response or a `previous_response_id` chain for its token, deletes, and expires
//! them after `responses.retention_days`.
//!
//! A response is written as soon as it is finished — a client continues a conversation the
//! moment it has the answer — by group commit: while one write is in flight, the responses
//! finished meanwhile wait and go together in the next (one statement, at most
//! `WRITE_BATCH`), so the database keeps up with any call rate at one write's latency.
//! Until its write lands a response is served from the actor's own pending map, so the same
//! instance never misses it; another instance of a cluster sees it once the write commits
//! (a few ms).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use sea_orm::DatabaseConnection;
use serde_json::Value;

use crate::accounting::response_quota::ResponseQuota;
use crate::core::endpoint::Dialect;
use crate::dialect::responses::{
    as_input_item, new_id, resent_input_item, stored_input, Context as ResponsesContext,
};
use crate::error::ApiError;
use crate::secrets::MasterKey;
use crate::settings::ResponsesSettings;
use crate::store::responses::{self as store, StoredResponse};
use crate::time::now_ms;

/// Pending writes kept while the database is failing; older ones are dropped past this
/// many, or past `MAX_PENDING_BYTES` of them.
const MAX_PENDING: usize = 10_000;
const MAX_PENDING_BYTES: i64 = 256 << 20;
/// Most responses one write carries.
const WRITE_BATCH: usize = 256;
/// Tries of a failing write before its responses are dropped (with a log line); the
/// pause before try n is 200 ms × 2^(n-1).
const WRITE_TRIES: u32 = 5;
/// Tombstones of deletions are swept after this long.
const TOMBSTONE_MS: i64 = 86_400_000;

pub struct ResponseStore {
    db: DatabaseConnection,
    master: MasterKey,
    settings: ResponsesSettings,
    /// Finished responses whose insert has not landed yet (shared with the reads in
    /// flight, which look there first).
    pending: Arc<DashMap<String, Arc<StoredResponse>>>,
    /// Finished responses waiting for the next write, with the tries they had.
    queue: std::collections::VecDeque<(Arc<StoredResponse>, u32)>,
    /// Bytes of the responses pending.
    pending_bytes: i64,
    /// A write is in flight, or waits out a failed one's pause.
    writing: bool,
    /// The per-token quota, told of what is stored and deleted.
    quota: Arc<ResponseQuota>,
    /// Responses deleted while their insert was in flight: deleted again once it lands.
    deleted_pending: HashSet<String>,
}

impl ResponseStore {
    pub fn new(
        db: DatabaseConnection,
        master: MasterKey,
        settings: ResponsesSettings,
        quota: Arc<ResponseQuota>,
    ) -> ResponseStore {
        ResponseStore {
            db,
            master,
            settings,
            pending: Arc::new(DashMap::new()),
            queue: std::collections::VecDeque::new(),
            pending_bytes: 0,
            writing: false,
            quota,
            deleted_pending: HashSet::new(),
        }
    }

    /// Forgets a pending response (written, dropped or deleted).
    fn unpend(&mut self, id: &str) {
        if let Some((_, record)) = self.pending.remove(id) {
            self.pending_bytes -= record.bytes();
        }
    }

    fn expire(&mut self, ctx: &mut Context<Self>) {
        let days = i64::from(self.settings.retention_days);
        let db = self.db.clone();
        ctx.spawn(
            async move {
                let now = now_ms();
                if let Err(e) = store::sweep_tombstones(&db, now - TOMBSTONE_MS).await {
                    log::warn!("cannot sweep deleted responses' tombstones: {e}");
                }
                if days == 0 {
                    // 0 keeps every response (as `logging.retention_days = 0` keeps every row).
                    return;
                }
                match store::delete_older_than(&db, now - days * 86_400_000).await {
                    Ok(0) => {}
                    Ok(n) => log::info!("deleted {n} stored responses older than {days} days"),
                    Err(e) => log::warn!("cannot expire stored responses: {e}"),
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for ResponseStore {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_later(Duration::from_secs(5), |act, ctx| act.expire(ctx));
        ctx.run_interval(Duration::from_secs(3600), |act, ctx| act.expire(ctx));
    }
}

/// Keeps a finished response (the call's `Keep` sends it).
#[derive(Message)]
#[rtype(result = "()")]
struct Save(Arc<StoredResponse>);

impl Handler<Save> for ResponseStore {
    type Result = ();

    fn handle(&mut self, Save(record): Save, ctx: &mut Context<Self>) {
        while !self.queue.is_empty()
            && (self.pending.len() >= MAX_PENDING
                || self.pending_bytes + record.bytes() > MAX_PENDING_BYTES)
        {
            if let Some((oldest, _)) = self.queue.pop_front() {
                log::warn!(
                    "stored responses: {} pending ({} bytes); dropping response {}",
                    self.pending.len(),
                    self.pending_bytes,
                    oldest.id
                );
                self.unpend(&oldest.id);
            }
        }
        self.pending_bytes += record.bytes();
        self.pending.insert(record.id.clone(), record.clone());
        self.queue.push_back((record, 0));
        self.write(ctx);
    }
}

impl ResponseStore {
    /// Starts a write of what waits, unless one is in flight (it starts the next).
    fn write(&mut self, ctx: &mut Context<Self>) {
        if self.writing || self.queue.is_empty() {
            return;
        }
        self.writing = true;
        let take = self.queue.len().min(WRITE_BATCH);
        let batch: Vec<(Arc<StoredResponse>, u32)> = self.queue.drain(..take).collect();
        let (db, master) = (self.db.clone(), self.master.clone());
        let records: Vec<Arc<StoredResponse>> = batch.iter().map(|(r, _)| r.clone()).collect();
        ctx.spawn(
            async move { store::insert_many(&db, &master, &records).await }
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(()) => {
                        act.writing = false;
                        for (record, _) in batch {
                            act.unpend(&record.id);
                            act.quota.add(record.token_id, record.stored_bytes());
                            if act.deleted_pending.remove(&record.id) {
                                act.delete_landed(record, ctx);
                            }
                        }
                        act.write(ctx);
                    }
                    Err(e) => act.retry(batch, &e.to_string(), ctx),
                }),
        );
    }

    /// A failed write: its responses wait and go again (still served here meanwhile), up
    /// to `WRITE_TRIES` tries; then they are dropped with a log line.
    fn retry(
        &mut self,
        batch: Vec<(Arc<StoredResponse>, u32)>,
        error: &str,
        ctx: &mut Context<Self>,
    ) {
        let tries = batch.iter().map(|(_, t)| t + 1).max().unwrap_or(1);
        log::warn!(
            "cannot store {} responses (try {tries} of {WRITE_TRIES}): {error}",
            batch.len()
        );
        for (record, tried) in batch.into_iter().rev() {
            if tried + 1 >= WRITE_TRIES {
                log::warn!(
                    "stored response {} dropped after {WRITE_TRIES} failed writes",
                    record.id
                );
                self.unpend(&record.id);
            } else if self.pending.contains_key(&record.id) {
                self.queue.push_front((record, tried + 1));
            }
        }
        let pause = Duration::from_millis(200 << (tries - 1).min(10));
        ctx.run_later(pause, |act, ctx| {
            act.writing = false;
            act.write(ctx);
        });
    }

    /// A response deleted while its write was in flight: deletes what just landed.
    fn delete_landed(&mut self, record: Arc<StoredResponse>, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        ctx.spawn(
            async move {
                if let Err(e) = store::delete(&db, &record.id, record.token_id).await {
                    log::warn!("cannot delete stored response {}: {e}", record.id);
                }
            }
            .into_actor(self),
        );
    }
}

/// What a call that stores its response hands over when it finishes.
pub struct Keep {
    pub store: Addr<ResponseStore>,
    pub token_id: i32,
    pub ctx: Arc<ResponsesContext>,
    /// The dialect the call was translated into, if it was (what is stored is what the
    /// upstream was sent).
    pub translated_to: Option<Dialect>,
}

impl Keep {
    /// Stores the finished response object (its own id, or the call's when it has none).
    pub fn response(self, mut response: Value) {
        let id = match response["id"].as_str().filter(|id| !id.is_empty()) {
            Some(id) => id.to_string(),
            None => {
                let id = if self.ctx.id.is_empty() {
                    new_id("resp")
                } else {
                    self.ctx.id.clone()
                };
                response["id"] = Value::String(id.clone());
                id
            }
        };
        self.store.do_send(Save(Arc::new(StoredResponse {
            id,
            token_id: self.token_id,
            previous_id: self.ctx.previous_response_id.clone(),
            input: stored_input(&self.ctx.input, self.translated_to),
            response: response.to_string(),
            created_at: now_ms(),
        })));
    }
}

/// The response `id` if `token_id` owns it (another token's is "not found").
#[derive(Message)]
#[rtype(result = "Result<Option<Arc<StoredResponse>>, ApiError>")]
pub struct Load {
    pub id: String,
    pub token_id: i32,
}

/// 404 for a response that does not exist or is another token's.
pub fn response_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Response with id '{}' not found.",
        crate::core::text::truncate(id, 100)
    ))
}

async fn load(
    db: &DatabaseConnection,
    master: &MasterKey,
    pending: &DashMap<String, Arc<StoredResponse>>,
    id: &str,
    token_id: i32,
) -> Result<Option<Arc<StoredResponse>>, ApiError> {
    let waiting = pending.get(id).map(|r| r.value().clone());
    let found = match waiting {
        Some(r) => Some(r),
        None => store::get(db, master, id)
            .await
            .map_err(|e| ApiError::internal("cannot read a stored response", e))?
            .map(Arc::new),
    };
    Ok(found.filter(|r| r.token_id == token_id))
}

impl Handler<Load> for ResponseStore {
    type Result = ResponseFuture<Result<Option<Arc<StoredResponse>>, ApiError>>;

    fn handle(&mut self, msg: Load, _: &mut Context<Self>) -> Self::Result {
        let (db, master) = (self.db.clone(), self.master.clone());
        let pending = self.pending.clone();
        Box::pin(async move { load(&db, &master, &pending, &msg.id, msg.token_id).await })
    }
}

/// The items a call continuing `id` starts from: every stored response of the chain,
/// oldest first, its input items then its output items. Refused (400) past
/// `max_chain_responses` responses or `max_chain_bytes` bytes; 404 when a link is missing
/// or another token's.
#[derive(Message)]
#[rtype(result = "Result<Vec<Value>, ApiError>")]
pub struct Chain {
    pub id: String,
    pub token_id: i32,
}

impl Handler<Chain> for ResponseStore {
    type Result = ResponseFuture<Result<Vec<Value>, ApiError>>;

    fn handle(&mut self, msg: Chain, _: &mut Context<Self>) -> Self::Result {
        let (db, master) = (self.db.clone(), self.master.clone());
        let pending = self.pending.clone();
        let (max_links, max_bytes) = (
            self.settings.max_chain_responses.max(1),
            self.settings.max_chain_bytes as i64,
        );
        Box::pin(async move {
            let mut links: Vec<Arc<StoredResponse>> = Vec::new();
            let mut bytes = 0i64;
            let mut next = Some(msg.id.clone());
            while let Some(id) = next {
                if links.len() >= max_links {
                    return Err(ApiError::invalid_param(
                        "previous_response_id",
                        format!(
                            "the conversation is longer than {max_links} stored responses \
                             (responses.max_chain_responses); send its items as input instead"
                        ),
                    ));
                }
                let link = load(&db, &master, &pending, &id, msg.token_id)
                    .await?
                    .ok_or_else(|| response_not_found(&id))?;
                bytes += link.bytes();
                if bytes > max_bytes {
                    return Err(ApiError::invalid_param(
                        "previous_response_id",
                        format!(
                            "the conversation's stored items exceed {max_bytes} bytes \
                             (responses.max_chain_bytes); send its items as input instead"
                        ),
                    ));
                }
                next = link.previous_id.clone();
                links.push(link);
            }
            let mut items = Vec::new();
            for link in links.iter().rev() {
                items.extend(link.input_items().iter().map(resent_input_item));
                items.extend(
                    link.response_object()["output"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(as_input_item),
                );
            }
            Ok(items)
        })
    }
}

/// Deletes the response `id` of `token_id`; whether it existed.
#[derive(Message)]
#[rtype(result = "Result<bool, ApiError>")]
pub struct Delete {
    pub id: String,
    pub token_id: i32,
}

impl Handler<Delete> for ResponseStore {
    type Result = ResponseFuture<Result<bool, ApiError>>;

    fn handle(&mut self, msg: Delete, _: &mut Context<Self>) -> Self::Result {
        let was_pending = self
            .pending
            .remove_if(&msg.id, |_, r| r.token_id == msg.token_id);
        if let Some((_, record)) = &was_pending {
            self.pending_bytes -= record.bytes();
            self.deleted_pending.insert(msg.id.clone());
        }
        let was_pending = was_pending.is_some();
        let db = self.db.clone();
        let quota = self.quota.clone();
        Box::pin(async move {
            let deleted = store::delete(&db, &msg.id, msg.token_id)
                .await
                .map_err(|e| ApiError::internal("cannot delete a stored response", e))?;
            if deleted {
                // Read again at the next call that stores.
                quota.forget(msg.token_id);
            }
            Ok(deleted || was_pending)
        })
    }
}
