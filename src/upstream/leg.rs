//! A call leg: how one candidate provider serves a client's call — the client's bytes
//! passed through to an upstream of the same dialect, or translated through the core into
//! the upstream's dialect.

use crate::core::api_type::ApiType;
use crate::core::endpoint::{Dialect, Endpoint};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// Client and upstream speak this dialect: the client's body goes on (model and cap
    /// rewritten where they must be).
    PassThrough(Dialect),
    /// The upstream speaks `to`: the client's body is decoded into the core and encoded
    /// for it.
    Translated { to: Dialect },
}

impl Leg {
    /// The leg of `endpoint` on a provider of `api_type` (`native_responses`: it speaks
    /// the Responses API itself).
    pub fn of(endpoint: Endpoint, api_type: ApiType, native_responses: bool) -> Leg {
        let client = endpoint.dialect();
        if client == Dialect::Responses && native_responses && api_type != ApiType::Anthropic {
            return Leg::PassThrough(Dialect::Responses);
        }
        let upstream = api_type.dialect();
        if client == upstream {
            Leg::PassThrough(client)
        } else {
            Leg::Translated { to: upstream }
        }
    }

    /// The dialect the upstream reads.
    pub fn upstream(self) -> Dialect {
        match self {
            Leg::PassThrough(d) | Leg::Translated { to: d } => d,
        }
    }
}
