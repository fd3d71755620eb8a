//! The wire shapes the OpenAPI document names for the client API and every error answer
//! (documentation types: the handlers read and write the real bodies themselves).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error on `/v1/*` (but `/v1/messages`), `/providers*`, `/admin/*`, `/auth/*`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `rate_limit_error`, `insufficient_quota`, `upstream_error`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub code: Option<String>,
    pub param: Option<String>,
}

/// Errors on `/v1/messages*`, in Anthropic's shape.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct AnthropicError {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub error: AnthropicErrorDetail,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AnthropicErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

/// OpenAI's chat completion request; every other OpenAI field is accepted and passed on.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChatCompletionRequest {
    /// `provider/model` or a bare model name (at most 256 bytes).
    pub model: String,
    /// OpenAI chat messages.
    pub messages: Vec<serde_json::Value>,
    pub stream: Option<bool>,
    pub max_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    /// 1..=128.
    pub n: Option<i64>,
}

/// OpenAI's chat completion object.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChatCompletion {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<serde_json::Value>,
    pub usage: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    pub model: String,
    /// A string, an array of strings or of token arrays.
    pub input: serde_json::Value,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Embeddings {
    pub object: String,
    pub data: Vec<serde_json::Value>,
    pub model: String,
    pub usage: Option<serde_json::Value>,
}

/// Anthropic's Messages request; other Anthropic fields are accepted.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MessagesRequest {
    pub model: String,
    pub messages: Vec<serde_json::Value>,
    pub max_tokens: Option<i64>,
    pub system: Option<serde_json::Value>,
    pub stream: Option<bool>,
}

/// Anthropic's message object.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub role: String,
    pub model: String,
    pub content: Vec<serde_json::Value>,
    pub stop_reason: Option<String>,
    pub usage: serde_json::Value,
}

/// Anthropic's token-counting request: a Messages request without the generation fields.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CountTokensRequest {
    pub model: String,
    pub messages: Vec<serde_json::Value>,
    pub system: Option<serde_json::Value>,
    pub tools: Option<Vec<serde_json::Value>>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenCount {
    pub input_tokens: i64,
}

/// OpenAI's Responses request; every field of the API is accepted (see the README for
/// what each provider type gets).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResponsesRequest {
    /// `provider/model` or a bare model name (at most 256 bytes).
    pub model: String,
    /// A string, or a list of input items (messages, function calls and their outputs,
    /// custom tool calls, reasoning items).
    pub input: serde_json::Value,
    pub instructions: Option<String>,
    pub stream: Option<bool>,
    /// The completion cap (a budgeted token's allowance goes here).
    pub max_output_tokens: Option<i64>,
    /// Default true: the response can be continued (`previous_response_id`), read and
    /// deleted.
    pub store: Option<bool>,
    /// A stored response of the same token to continue.
    pub previous_response_id: Option<String>,
    pub tools: Option<Vec<serde_json::Value>>,
}

/// OpenAI's response object.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Response {
    pub id: String,
    /// Always `response`.
    pub object: String,
    pub created_at: i64,
    /// `completed`, `incomplete` (see `incomplete_details.reason`), `failed`.
    pub status: String,
    pub model: String,
    /// Output items: `message` (`output_text`), `function_call`, `custom_tool_call`,
    /// `reasoning`.
    pub output: Vec<serde_json::Value>,
    pub usage: Option<serde_json::Value>,
}

/// `DELETE /v1/responses/{id}`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResponseDeleted {
    pub id: String,
    /// Always `response`.
    pub object: String,
    pub deleted: bool,
}

/// `GET /v1/responses/{id}/input_items`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct InputItems {
    /// Always `list`.
    pub object: String,
    pub data: Vec<serde_json::Value>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
    pub has_more: bool,
}
