//! Vendor quirks: what one kind of provider does differently from its dialect, as one row
//! per API type — how the key is sent, which field a completion cap goes into, whether a
//! stream reports usage only when asked, sampling bounds, and the error texts that mean
//! its key is out of money. Everything else about a call follows from its leg's dialects.

use serde_json::{Map, Value};

use crate::core::api_type::ApiType;
use crate::core::endpoint::Dialect;
use crate::dialect::chat::CapField;

/// How an upstream reads its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `authorization: Bearer <key>`.
    Bearer,
    /// `x-api-key: <key>` with an `anthropic-version`.
    XApiKey,
}

/// Sampling parameters an upstream refuses outside its own bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Any value the dialect allows.
    Open,
    /// Zhipu: `temperature` in (0, 1] (0 means greedy: `do_sample: false`), `top_p` in
    /// [0.01, 0.99].
    Zhipu,
}

/// One API type's row.
#[derive(Debug)]
pub struct Quirks {
    /// The dialects the type speaks, its own first (what other clients are translated to).
    pub dialects: &'static [Dialect],
    pub auth: Auth,
    /// The Chat field a completion cap goes into when the client sent none.
    pub cap_field: CapField,
    /// A Chat stream reports usage only with `stream_options.include_usage` (so the
    /// gateway asks for it, and strips the chunk again if the client did not).
    pub ask_stream_usage: bool,
    pub sampling: Sampling,
    /// Texts of its own in a 429 body (lower case) that mean the key's money is spent, not
    /// a rate (besides the [`OUT_OF_MONEY`] texts every OpenAI-compatible server copies).
    pub out_of_money: &'static [&'static str],
}

/// 429 texts meaning "the key's money is spent", as OpenAI, DeepSeek and Anthropic write
/// them and OpenAI-compatible relays copy them.
pub const OUT_OF_MONEY: &[&str] = &[
    "insufficient_quota",
    "exceeded your current quota",
    "insufficient balance",
    "credit balance",
];

/// OpenAI itself: `max_tokens` is deprecated there and refused by reasoning models.
const OPENAI: Quirks = Quirks {
    dialects: &[Dialect::Chat],
    auth: Auth::Bearer,
    cap_field: CapField::MaxCompletionTokens,
    ask_stream_usage: true,
    sampling: Sampling::Open,
    out_of_money: &[],
};

/// OpenAI with the Responses API (a provider set to `responses = "native"`, or by default
/// one at api.openai.com).
const OPENAI_RESPONSES: Quirks = Quirks {
    dialects: &[Dialect::Chat, Dialect::Responses],
    ..OPENAI
};

/// DeepSeek reads `max_tokens` only.
const DEEPSEEK: Quirks = Quirks {
    dialects: &[Dialect::Chat],
    auth: Auth::Bearer,
    cap_field: CapField::MaxTokens,
    ask_stream_usage: true,
    sampling: Sampling::Open,
    out_of_money: &[],
};

/// Zhipu (GLM) reads `max_tokens`, refuses `temperature` 0 and `top_p` 1 on many models,
/// and reports usage in its last chunk without `stream_options`.
const ZHIPU: Quirks = Quirks {
    dialects: &[Dialect::Chat],
    auth: Auth::Bearer,
    cap_field: CapField::MaxTokens,
    ask_stream_usage: false,
    sampling: Sampling::Zhipu,
    // 1113 "余额不足或无可用资源包" (balance or resource pack exhausted).
    out_of_money: &["\"1113\"", "余额不足"],
};

const ANTHROPIC: Quirks = Quirks {
    dialects: &[Dialect::Messages],
    auth: Auth::XApiKey,
    cap_field: CapField::MaxTokens,
    ask_stream_usage: false,
    sampling: Sampling::Open,
    out_of_money: &[],
};

impl Quirks {
    /// The row of `api_type`; `native_responses`: an OpenAI provider that speaks the
    /// Responses API too.
    pub fn of(api_type: ApiType, native_responses: bool) -> &'static Quirks {
        match api_type {
            ApiType::OpenAi if native_responses => &OPENAI_RESPONSES,
            ApiType::OpenAi => &OPENAI,
            ApiType::DeepSeek => &DEEPSEEK,
            ApiType::Zhipu => &ZHIPU,
            ApiType::Anthropic => &ANTHROPIC,
        }
    }

    /// Whether `body` (a Chat body about to be sent) holds sampling values this upstream
    /// must have adjusted.
    pub fn adjusts_sampling(&self, raw: &[u8]) -> bool {
        self.sampling == Sampling::Zhipu
            && (mentions(raw, b"\"temperature\"") || mentions(raw, b"\"top_p\""))
    }

    /// Brings sampling values within this upstream's bounds.
    pub fn fit_sampling(&self, map: &mut Map<String, Value>) {
        if self.sampling != Sampling::Zhipu {
            return;
        }
        if let Some(t) = map.get("temperature").and_then(Value::as_f64) {
            if t <= 0.0 {
                map.remove("temperature");
                map.insert("do_sample".into(), Value::Bool(false));
            } else if t > 1.0 {
                map.insert("temperature".into(), Value::from(1.0));
            }
        }
        if let Some(p) = map.get("top_p").and_then(Value::as_f64) {
            map.insert("top_p".into(), Value::from(p.clamp(0.01, 0.99)));
        }
    }

    /// Whether a 429 body says the key's money is spent.
    pub fn out_of_money(&self, lower_case_body: &str) -> bool {
        OUT_OF_MONEY
            .iter()
            .chain(self.out_of_money)
            .any(|text| lower_case_body.contains(text))
    }
}

/// Whether a provider speaks the Responses API itself: as its `responses` setting says
/// (`native`), else when it is OpenAI itself.
pub fn speaks_responses(api_type: ApiType, base_url: &str, setting: Option<&str>) -> bool {
    api_type == ApiType::OpenAi
        && match setting {
            Some(mode) => mode == "native",
            None => base_url
                .split("://")
                .nth(1)
                .is_some_and(|rest| rest.starts_with("api.openai.com")),
        }
}

/// Whether `raw` holds `field` anywhere (a cheap test before parsing).
pub fn mentions(raw: &[u8], field: &[u8]) -> bool {
    raw.windows(field.len()).any(|w| w == field)
}
