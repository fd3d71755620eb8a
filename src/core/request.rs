//! The typed model of one call's request, which every dialect decodes into (client side)
//! and encodes from (upstream side). It holds what the gateway translates; a dialect's
//! fields with no meaning elsewhere stay in that dialect (same-dialect calls never come
//! here: they pass through byte for byte).

use serde_json::Value;

/// One call, as the client asked for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    pub model: String,
    /// Instructions before the conversation (system / developer prompt).
    pub system: Vec<TextPart>,
    pub turns: Vec<Turn>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)`: at most one tool call per answer.
    pub parallel_tool_calls: Option<bool>,
    pub sampling: Sampling,
    /// The client's completion cap, if it set one (the gateway may lower it).
    pub max_output_tokens: Option<i64>,
    pub reasoning: Option<Reasoning>,
    pub response_format: Option<ResponseFormat>,
    /// The end user the client names (`user`, `metadata.user_id`).
    pub user: Option<String>,
    pub stream: bool,
}

/// A text part, with the prompt-cache marker a client put on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextPart {
    pub text: String,
    pub cache_control: Option<Value>,
}

impl TextPart {
    pub fn new(text: impl Into<String>) -> TextPart {
        TextPart {
            text: text.into(),
            cache_control: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An instruction inside the conversation (Claude Code sends these between turns).
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub blocks: Vec<Block>,
}

/// One typed piece of a turn or of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(TextPart),
    Image(Media),
    Document {
        source: DocumentSource,
        title: Option<String>,
    },
    /// The model calls a tool; `input` is a JSON object.
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// The client answers a tool call.
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
    /// The model's reasoning; the signature lets its author check it when sent back.
    Thinking {
        text: String,
        signature: String,
    },
    /// Reasoning its author encrypted: only that provider can read it back.
    RedactedThinking {
        data: String,
    },
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    Base64 { media_type: String, data: String },
    Url(String),
}

/// Where a document comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentSource {
    /// Plain text, inline.
    Text(String),
    Base64 {
        media_type: String,
        data: String,
    },
    Url(String),
    /// A file uploaded to the provider earlier.
    FileId(String),
}

impl DocumentSource {
    /// The source's kind as dialects name it.
    pub fn kind(&self) -> &'static str {
        match self {
            DocumentSource::Text(_) => "text",
            DocumentSource::Base64 { .. } => "base64",
            DocumentSource::Url(_) => "url",
            DocumentSource::FileId(_) => "file",
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    /// Run by the client: a name, a description and a JSON schema of its input.
    Function {
        name: String,
        description: Option<String>,
        schema: Option<Value>,
    },
    /// Run by the provider itself (Anthropic's web search, code execution, …): only that
    /// provider can take it.
    Hosted { kind: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Tool(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
}

/// How much the model may think before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reasoning {
    /// OpenAI's levels (`reasoning_effort`, `reasoning.effort`).
    Effort(Effort),
    /// A token budget (Anthropic's `thinking.budget_tokens`).
    Budget(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Minimal,
    Low,
    Medium,
    High,
}

impl Effort {
    pub fn parse(s: &str) -> Option<Effort> {
        Some(match s {
            "minimal" => Effort::Minimal,
            "low" => Effort::Low,
            "medium" => Effort::Medium,
            "high" => Effort::High,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }

    /// A thinking budget for providers that take one.
    pub fn budget(self) -> i64 {
        match self {
            Effort::Minimal | Effort::Low => 1024,
            Effort::Medium => 4096,
            Effort::High => 16_384,
        }
    }
}

/// The shape the answer's text must have.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        strict: Option<bool>,
    },
}
