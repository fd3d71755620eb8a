//! `BudgetAlerts`: owns the outbox of budget alerts. The ledger reports each threshold an
//! account's period usage reaches (once per period on each instance); this actor records
//! it once across the cluster (`store::budget_alerts`, the database decides), writes it to
//! the audit trail, and POSTs it to `alerts.webhook_url` signed with HMAC-SHA256 of the
//! body (`X-Gateway-Signature: sha256=<hex>`), retrying with backoff (1 s doubling, at most
//! 5 minutes apart) until it is delivered or an hour has passed.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sea_orm::DatabaseConnection;
use serde_json::json;
use sha2::Sha256;

use crate::accounting::ledger::{Crossing, LedgerState};
use crate::accounting::period::rfc3339_opt;
use crate::accounting::AccountKey;
use crate::core::money::Money;
use crate::store::audit::{self, AuditEntry};
use crate::store::budget_alerts::{self as outbox, Due, Outcome};
use crate::time::now_ms;
use crate::upstream::http::UpstreamHttp;

/// How long an alert is retried before it is given up.
const RETRY_FOR_MS: i64 = 3_600_000;
/// Longest wait between attempts.
const MAX_BACKOFF_MS: i64 = 300_000;
/// How long one attempt may take (the claim lasts a little longer).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct BudgetAlerts {
    db: DatabaseConnection,
    ledger: Arc<LedgerState>,
    http: UpstreamHttp,
    url: String,
    secret: String,
    /// A delivery round is under way.
    sending: bool,
}

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `attempts + 1`.
fn backoff_ms(attempts: i32) -> i64 {
    (1000i64 << attempts.clamp(0, 20)).min(MAX_BACKOFF_MS)
}

impl BudgetAlerts {
    pub fn new(
        db: DatabaseConnection,
        ledger: Arc<LedgerState>,
        http: UpstreamHttp,
        url: String,
        secret: String,
    ) -> BudgetAlerts {
        BudgetAlerts {
            db,
            ledger,
            http,
            url,
            secret,
            sending: false,
        }
    }

    /// The event's JSON for a crossing (names read from the ledger's settings).
    fn event(&self, c: &Crossing) -> serde_json::Value {
        let name = match c.key {
            AccountKey::Token(id) => self.ledger.state(id).map(|s| s.info.name.clone()),
            AccountKey::Team(id) => self.ledger.team(id).map(|t| t.name.clone()),
        };
        let amount = |v: i64| {
            if c.usd {
                json!(Money::from_nanos(v).usd())
            } else {
                json!(v)
            }
        };
        json!({
            "event": "budget.threshold",
            "subject": {"kind": c.key.kind(), "id": c.key.id(), "name": name},
            "threshold": c.threshold,
            "spent": amount(c.spent),
            "limit": amount(c.limit),
            "unit": if c.usd { "usd" } else { "tokens" },
            "period_started_at": rfc3339_opt(Some(c.period_start).filter(|s| *s > 0)),
            "resets_at": rfc3339_opt(c.resets_at),
            "at": rfc3339_opt(Some(now_ms())),
        })
    }

    /// Delivers what is due, one round at a time.
    fn deliver(&mut self, ctx: &mut Context<Self>) {
        if std::mem::replace(&mut self.sending, true) {
            return;
        }
        let (db, http, url, secret) = (
            self.db.clone(),
            self.http.clone(),
            self.url.clone(),
            self.secret.clone(),
        );
        async move {
            let now = now_ms();
            let due = match outbox::due(&db, now, 50).await {
                Ok(due) => due,
                Err(e) => {
                    log::warn!("cannot read budget alerts: {e}");
                    return;
                }
            };
            for alert in due {
                let claim_until = now + ATTEMPT_TIMEOUT.as_millis() as i64 + 5_000;
                match outbox::claim(&db, &alert, claim_until).await {
                    Ok(true) => send(&db, &http, &url, &secret, alert).await,
                    Ok(false) => {}
                    Err(e) => log::warn!("cannot claim a budget alert: {e}"),
                }
            }
        }
        .into_actor(self)
        .map(|_, act, _| act.sending = false)
        .spawn(ctx);
    }
}

/// One attempt at delivering `alert`, and its outcome recorded.
async fn send(db: &DatabaseConnection, http: &UpstreamHttp, url: &str, secret: &str, alert: Due) {
    let body = Bytes::from(alert.payload.clone());
    let headers = [
        (
            http::HeaderName::from_static("x-gateway-signature"),
            signature(secret, &body),
        ),
        (
            http::HeaderName::from_static("x-gateway-event"),
            "budget.threshold".to_string(),
        ),
    ];
    let sent = tokio::time::timeout(ATTEMPT_TIMEOUT, http.post(url, &headers, body)).await;
    let failure = match sent {
        Ok(Ok(resp)) if resp.status().is_success() => None,
        Ok(Ok(resp)) => Some(format!("the receiver answered {}", resp.status().as_u16())),
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer in 10 s".to_string()),
    };
    let now = now_ms();
    let outcome = match &failure {
        None => Outcome::Delivered,
        Some(_) if now - alert.created_at >= RETRY_FOR_MS => Outcome::GaveUp,
        Some(_) => Outcome::RetryAt(now + backoff_ms(alert.attempts)),
    };
    if let Some(why) = &failure {
        log::warn!(
            "budget alert {} not delivered (attempt {}): {why}",
            alert.id,
            alert.attempts + 1
        );
    }
    if matches!(outcome, Outcome::GaveUp) {
        let entry = AuditEntry {
            actor: "gateway".into(),
            action: "alert_undelivered",
            resource: format!("alert/{}", alert.id),
            before: None,
            after: serde_json::from_str(&alert.payload).ok(),
            request_id: String::new(),
        };
        if let Err(e) = audit::insert(db, entry, now).await {
            log::warn!("cannot audit an undelivered budget alert: {e}");
        }
    }
    if let Err(e) = outbox::finish(db, alert.id, outcome, now).await {
        log::warn!("cannot record a budget alert's delivery: {e}");
    }
}

impl Actor for BudgetAlerts {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        self.ledger.report_alerts_to(tx);
        let addr = ctx.address();
        actix_web::rt::spawn(async move {
            while let Some(crossing) = rx.recv().await {
                addr.do_send(Crossed(crossing));
            }
        });
        ctx.run_interval(Duration::from_secs(1), |act, ctx| act.deliver(ctx));
    }
}

/// The ledger saw an account's period usage reach a threshold.
#[derive(Message)]
#[rtype(result = "()")]
struct Crossed(Crossing);

impl Handler<Crossed> for BudgetAlerts {
    type Result = ();

    fn handle(&mut self, msg: Crossed, ctx: &mut Context<Self>) {
        let c = msg.0;
        let event = self.event(&c);
        let payload = event.to_string();
        let db = self.db.clone();
        async move {
            let now = now_ms();
            let milli = (c.threshold * 1000.0).round() as i32;
            let first = outbox::record_once(
                &db,
                c.key.kind(),
                c.key.id(),
                milli,
                c.period_start,
                &payload,
                now,
            )
            .await;
            match first {
                Ok(true) => {
                    let entry = AuditEntry {
                        actor: "gateway".into(),
                        action: "alert",
                        resource: format!("{}/{}", c.key.kind(), c.key.id()),
                        before: None,
                        after: Some(event),
                        request_id: String::new(),
                    };
                    if let Err(e) = audit::insert(&db, entry, now).await {
                        log::warn!("cannot audit a budget alert: {e}");
                    }
                    true
                }
                // Another instance (or an earlier life of this one) recorded it.
                Ok(false) => false,
                Err(e) => {
                    log::warn!("cannot record a budget alert: {e}");
                    false
                }
            }
        }
        .into_actor(self)
        .map(|recorded, act, ctx| {
            if recorded {
                act.deliver(ctx);
            }
        })
        .spawn(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff_ms(0), 1_000);
        assert_eq!(backoff_ms(3), 8_000);
        assert_eq!(backoff_ms(30), MAX_BACKOFF_MS);
    }
}
