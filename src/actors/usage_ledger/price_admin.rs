//! The admin API's price operations, done by the `UsageLedger`: each writes the price
//! book, announces the change and puts the new book in force for the next call.

use actix::prelude::*;

use super::{price_book, UsageLedger};
use crate::error::ApiError;
use crate::store::changes::{self, Change};
use crate::store::prices::{self as price_store, PriceRow};

#[derive(Message)]
#[rtype(result = "Vec<PriceRow>")]
pub struct ListPrices;

impl Handler<ListPrices> for UsageLedger {
    type Result = MessageResult<ListPrices>;

    fn handle(&mut self, _: ListPrices, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.price_rows.clone())
    }
}

/// Creates or replaces prices; in force for the next call.
#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct PutPrices(pub Vec<PriceRow>);

impl Handler<PutPrices> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: PutPrices, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                price_store::upsert(&db, &msg.0).await?;
                changes::announce(&db, Change::Accounts).await;
                price_store::load(&db).await
            }
            .into_actor(self)
            .map(|res, act, _| {
                let rows = res.map_err(|e| ApiError::internal("cannot save prices", e))?;
                act.state.set_prices(price_book(&rows));
                act.price_rows = rows;
                Ok(())
            }),
        )
    }
}

/// Deletes a price; calls to the model are then priced by the fallbacks.
#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct DeletePrice {
    pub provider: String,
    pub model: String,
}

impl Handler<DeletePrice> for UsageLedger {
    type Result = ResponseActFuture<Self, Result<(), ApiError>>;

    fn handle(&mut self, msg: DeletePrice, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move {
                let found = price_store::delete(&db, &msg.provider, &msg.model).await?;
                changes::announce(&db, Change::Accounts).await;
                Ok::<_, sea_orm::DbErr>((found, price_store::load(&db).await?, msg))
            }
            .into_actor(self)
            .map(|res, act, _| {
                let (found, rows, msg) =
                    res.map_err(|e| ApiError::internal("cannot delete the price", e))?;
                act.state.set_prices(price_book(&rows));
                act.price_rows = rows;
                if found {
                    Ok(())
                } else {
                    Err(ApiError::NotFound(format!(
                        "no price for model '{}'{}",
                        msg.model,
                        if msg.provider.is_empty() {
                            String::new()
                        } else {
                            format!(" of provider '{}'", msg.provider)
                        }
                    )))
                }
            }),
        )
    }
}
