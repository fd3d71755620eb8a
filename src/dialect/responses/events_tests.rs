//! Core stream events written as the Responses API's event sequence.

use super::*;
use crate::core::usage::Usage;

fn ctx() -> Arc<Context> {
    Arc::new(Context {
        id: "resp_1".into(),
        model: "m".into(),
        store: true,
        ..Context::default()
    })
}

#[test]
fn streams_the_event_sequence_with_sequence_numbers() {
    let mut w = ResponseEventWriter::new(ctx());
    let mut state = StreamState::default();
    let mut out = BytesMut::new();
    let events = [
        Event::Start {
            id: "x".into(),
            model: "m".into(),
        },
        Event::BlockStart {
            index: 0,
            block: BlockKind::Text,
        },
        Event::BlockDelta {
            index: 0,
            delta: BlockDelta::Text("Hel".into()),
        },
        Event::BlockDelta {
            index: 0,
            delta: BlockDelta::Text("lo".into()),
        },
        Event::BlockStop { index: 0 },
        Event::BlockStart {
            index: 1,
            block: BlockKind::ToolUse {
                id: "c1".into(),
                name: "f".into(),
            },
        },
        Event::BlockDelta {
            index: 1,
            delta: BlockDelta::ToolInput("{\"a\":".into()),
        },
        Event::BlockDelta {
            index: 1,
            delta: BlockDelta::ToolInput("1}".into()),
        },
        Event::BlockStop { index: 1 },
        Event::Usage(Usage {
            prompt_tokens: 4,
            completion_tokens: 2,
            ..Usage::default()
        }),
        Event::Finish(StopReason::ToolUse),
        Event::Done,
    ];
    for e in &events {
        state.observe(e);
        w.write(e, &state, &mut out);
    }
    let text = String::from_utf8(out.to_vec()).unwrap();
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let numbers: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["sequence_number"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers, (0..15).collect::<Vec<u64>>());
    let done = w.response_object().unwrap();
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(done["output"][1]["arguments"], "{\"a\":1}");
    assert_eq!(done["usage"]["input_tokens"], 4);
}
