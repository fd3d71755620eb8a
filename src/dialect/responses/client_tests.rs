//! Responses requests decoded into the core: instructions, input items, tools, formats.

use super::*;
use serde_json::json;

#[test]
fn decodes_items_tools_and_options() {
    let raw = json!({
        "model": "m", "instructions": "be brief", "max_output_tokens": 50,
        "reasoning": {"effort": "high"}, "text": {"format": {"type": "json_schema",
            "name": "r", "schema": {"type": "object"}}},
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
            {"role": "user", "content": "hi"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\":1}"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** patch"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "bad patch"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}], "encrypted_content": "openai-opaque"}
        ],
        "tools": [
            {"type": "function", "name": "f", "parameters": {"type": "object"}},
            {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
            {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "g"}]},
            {"type": "web_search"}
        ],
        "tool_choice": {"type": "custom", "name": "apply_patch"}
    });
    let call = decode_request(raw.to_string().as_bytes()).unwrap();
    assert_eq!(call.system[0].text, "be brief");
    assert_eq!(call.max_output_tokens, Some(50));
    assert_eq!(call.reasoning, Some(Reasoning::Effort(Effort::High)));
    assert!(matches!(
        call.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ));
    let roles: Vec<Role> = call.turns.iter().map(|t| t.role).collect();
    assert_eq!(
        roles,
        vec![
            Role::System,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant
        ]
    );
    assert_eq!(
        call.turns[2].blocks[1],
        Block::ToolUse {
            id: "c2".into(),
            name: "apply_patch".into(),
            input: json!({"input": "*** patch"})
        }
    );
    assert_eq!(
        call.turns[4].blocks[0],
        Block::Thinking {
            text: "hmm".into(),
            signature: String::new()
        },
        "OpenAI's encrypted reasoning does not travel"
    );
    let names: Vec<&str> = call
        .tools
        .iter()
        .filter_map(|t| match t {
            Tool::Function { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["f", "apply_patch", "g"], "web_search dropped");
    assert_eq!(
        call.tool_choice,
        Some(ToolChoice::Tool("apply_patch".into()))
    );
}

#[test]
fn rejects_what_it_cannot_map() {
    assert!(
        decode_request(br#"{"model":"m","input":[{"type":"item_reference","id":"x"}]}"#).is_err()
    );
    assert!(decode_request(br#"{"model":"m","input":5}"#).is_err());
}
