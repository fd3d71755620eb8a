//! The typed model of a whole answer, which upstream-side mappers decode into and
//! client-side mappers encode from.

use super::request::Block;
use super::usage::{TextEstimate, Usage};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub id: String,
    pub model: String,
    /// Thinking, text and tool calls, in the order generated.
    pub blocks: Vec<Block>,
    /// Why generation stopped, when the upstream said.
    pub stop: Option<StopReason>,
    pub usage: Option<Usage>,
}

impl Reply {
    /// Estimated tokens of what the answer generated (for when usage is missing).
    pub fn generated(&self) -> i64 {
        let mut estimate = TextEstimate::default();
        for block in &self.blocks {
            match block {
                Block::Text(part) => estimate.add(&part.text),
                Block::Thinking { text, .. } => estimate.add(text),
                Block::ToolUse { name, input, .. } => {
                    estimate.add(name);
                    estimate.add(&input.to_string());
                }
                _ => {}
            }
        }
        estimate.tokens()
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model finished its turn.
    EndTurn,
    /// A stop sequence matched.
    StopSequence,
    /// The completion cap (or the context window) was reached.
    MaxTokens,
    /// The model called tools and waits for their results.
    ToolUse,
    /// The provider's safety system refused or cut the answer.
    Refusal,
}
