//! A streamed answer as typed events: what upstream-side readers produce from their
//! dialect's chunks and client-side writers turn into theirs, event by event.

use super::reply::StopReason;
use super::usage::Usage;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The answer begins.
    Start {
        id: String,
        model: String,
    },
    /// A content block opens at `index` (indices count up from 0 in the answer).
    BlockStart {
        index: usize,
        block: BlockKind,
    },
    BlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    BlockStop {
        index: usize,
    },
    /// Usage so far, as the upstream reported it (the latest report wins).
    Usage(Usage),
    /// Why generation stopped.
    Finish(StopReason),
    /// The upstream reported an error inside the stream; the answer is cut.
    Error {
        kind: Option<String>,
        message: String,
    },
    /// The upstream ended the answer normally.
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BlockKind {
    Text,
    Thinking,
    ToolUse {
        id: String,
        name: String,
    },
    /// A block only its own dialect knows (server tool calls and results, …).
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BlockDelta {
    Text(String),
    Thinking(String),
    /// The signature of a thinking block.
    Signature(String),
    /// A piece of a tool call's JSON input.
    ToolInput(String),
}
