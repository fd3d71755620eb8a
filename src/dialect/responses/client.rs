//! The Responses API's client side, request half: a Responses request (instructions,
//! input items, tools, options) decoded into the core. `output.rs` and `events.rs` are the
//! answer half.

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::SIGNATURE_PREFIX;
use crate::core::request::{
    Block, DocumentSource, Effort, Reasoning, Request, ResponseFormat, Role, Sampling, TextPart,
    Tool, ToolChoice, Turn,
};
use crate::dialect::chat::client::{media_of_url, parse_arguments};
use crate::error::ApiError;

/// The tools of a request as the core's tools: `function` tools as they are; `custom`
/// (free-form) tools as functions of one string argument `input`; the tools inside a
/// `namespace` tool as plain functions. Provider-run tools (`web_search`, `file_search`,
/// `code_interpreter`, …) cannot run anywhere but at OpenAI: dropped (a native provider
/// gets the request untouched). Also returns the names standing for custom and
/// namespaced tools.
pub fn read_tools(tools: Option<&Value>) -> Result<Tools, ApiError> {
    let mut out = Tools::default();
    let Some(tools) = tools.filter(|t| !t.is_null()) else {
        return Ok(out);
    };
    let tools = tools
        .as_array()
        .ok_or_else(|| ApiError::invalid_param("tools", "'tools' must be an array"))?;
    for tool in tools {
        read_tool(
            tool,
            None,
            &mut out.tools,
            &mut out.custom,
            &mut out.namespaced,
        )?;
    }
    Ok(out)
}

/// A request's tools as the core's, and which function names stand for what.
#[derive(Debug, Default)]
pub struct Tools {
    pub tools: Vec<Tool>,
    /// Names of `custom` tools.
    pub custom: Vec<String>,
    /// (name, namespace) of tools inside `namespace` tools.
    pub namespaced: Vec<(String, String)>,
}

fn read_tool(
    tool: &Value,
    namespace: Option<&str>,
    out: &mut Vec<Tool>,
    custom: &mut Vec<String>,
    namespaced: &mut Vec<(String, String)>,
) -> Result<(), ApiError> {
    let kind = tool["type"].as_str().unwrap_or("function");
    let name = || -> Result<String, ApiError> {
        tool["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ApiError::invalid_param("tools", "every tool needs a 'name'"))
    };
    let description = tool["description"].as_str().map(str::to_string);
    match kind {
        "function" => {
            let name = name()?;
            if let Some(ns) = namespace {
                namespaced.push((name.clone(), ns.to_string()));
            }
            out.push(Tool::Function {
                name,
                description,
                schema: tool.get("parameters").filter(|p| !p.is_null()).cloned(),
            });
        }
        "custom" => {
            let name = name()?;
            let mut about = description.unwrap_or_default();
            if let Some(definition) = tool.pointer("/format/definition").and_then(Value::as_str) {
                let syntax = tool
                    .pointer("/format/syntax")
                    .and_then(Value::as_str)
                    .unwrap_or("grammar");
                about.push_str(&format!(
                    "\n\nThe `input` argument is free-form text in this {syntax}:\n{definition}"
                ));
            }
            custom.push(name.clone());
            out.push(Tool::Function {
                name,
                description: Some(about),
                schema: Some(json!({
                    "type": "object",
                    "properties": {"input": {"type": "string",
                        "description": "The tool's whole free-form input."}},
                    "required": ["input"],
                    "additionalProperties": false,
                })),
            });
        }
        "namespace" => {
            let ns = name()?;
            for inner in tool["tools"].as_array().into_iter().flatten() {
                read_tool(inner, Some(&ns), out, custom, namespaced)?;
            }
        }
        _ => {} // provider-run: see above
    }
    Ok(())
}

fn text_of_content(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str().or(p.as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A message's content (a string or a list of parts) as core blocks.
fn content_blocks(content: &Value) -> Result<Vec<Block>, ApiError> {
    let parts = match content {
        Value::String(s) => return Ok(vec![Block::Text(TextPart::new(s.clone()))]),
        Value::Array(parts) => parts,
        Value::Null => return Ok(Vec::new()),
        _ => {
            return Err(ApiError::invalid_param(
                "input",
                "a message's 'content' must be a string or an array",
            ))
        }
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        match part["type"].as_str().unwrap_or("") {
            "input_text" | "output_text" | "text" | "summary_text" => blocks.push(Block::Text(
                TextPart::new(part["text"].as_str().unwrap_or_default()),
            )),
            "refusal" => blocks.push(Block::Text(TextPart::new(
                part["refusal"].as_str().unwrap_or_default(),
            ))),
            "input_image" => {
                let url = part["image_url"].as_str().ok_or_else(|| {
                    ApiError::invalid_param(
                        "input",
                        "input_image needs an 'image_url' (file ids are not supported)",
                    )
                })?;
                blocks.push(Block::Image(media_of_url(url)?));
            }
            "input_file" => {
                let title = part["filename"].as_str().map(str::to_string);
                let source = if let Some(data) = part["file_data"].as_str() {
                    match media_of_url(data)? {
                        crate::core::request::Media::Base64 { media_type, data } => {
                            DocumentSource::Base64 { media_type, data }
                        }
                        crate::core::request::Media::Url(url) => DocumentSource::Url(url),
                    }
                } else if let Some(url) = part["file_url"].as_str() {
                    DocumentSource::Url(url.to_string())
                } else if let Some(id) = part["file_id"].as_str() {
                    DocumentSource::FileId(id.to_string())
                } else {
                    return Err(ApiError::invalid_param(
                        "input",
                        "input_file needs 'file_data', 'file_url' or 'file_id'",
                    ));
                };
                blocks.push(Block::Document { source, title });
            }
            other => {
                return Err(ApiError::invalid_param(
                    "input",
                    format!(
                        "content part type '{}' is not supported",
                        crate::core::text::truncate(other, 60)
                    ),
                ))
            }
        }
    }
    Ok(blocks)
}

/// Appends blocks to the conversation, joining consecutive blocks of one role.
fn push(turns: &mut Vec<Turn>, role: Role, blocks: Vec<Block>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role && role != Role::System => last.blocks.extend(blocks),
        _ => turns.push(Turn { role, blocks }),
    }
}

/// The input (a string or a list of items) as core turns.
pub fn read_input(input: Option<&RawValue>, turns: &mut Vec<Turn>) -> Result<(), ApiError> {
    let text = input.map_or("null", |i| i.get()).trim_start();
    let invalid = |e: serde_json::Error| ApiError::invalid_param("input", format!("'input': {e}"));
    if text.starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(invalid)?;
        push(turns, Role::User, vec![Block::Text(TextPart::new(s))]);
        return Ok(());
    }
    if text.starts_with("null") {
        return Ok(());
    }
    if !text.starts_with('[') {
        return Err(ApiError::invalid_param(
            "input",
            "'input' must be a string or an array of items",
        ));
    }
    // One item built at a time: a body of many small items never exists as one tree.
    let items: Vec<&RawValue> = serde_json::from_str(text).map_err(invalid)?;
    for raw_item in items {
        let item: Value = serde_json::from_str(raw_item.get()).map_err(invalid)?;
        read_item(&item, turns)?;
    }
    Ok(())
}

/// One input item into the turns.
fn read_item(item: &Value, turns: &mut Vec<Turn>) -> Result<(), ApiError> {
    let kind = item["type"]
        .as_str()
        .unwrap_or(if item.get("role").is_some() {
            "message"
        } else {
            ""
        });
    let call_id = || item["call_id"].as_str().unwrap_or_default().to_string();
    match kind {
        "message" => {
            let role = match item["role"].as_str() {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system") | Some("developer") => Role::System,
                _ => {
                    return Err(ApiError::invalid_param(
                        "input",
                        "a message's 'role' must be user, assistant, system or developer",
                    ))
                }
            };
            let blocks = if role == Role::System {
                vec![Block::Text(TextPart::new(text_of_content(
                    &item["content"],
                )))]
            } else {
                content_blocks(&item["content"])?
            };
            push(turns, role, blocks);
        }
        "function_call" => push(
            turns,
            Role::Assistant,
            vec![Block::ToolUse {
                id: call_id(),
                name: item["name"].as_str().unwrap_or_default().to_string(),
                input: parse_arguments(item["arguments"].as_str().unwrap_or("{}")),
            }],
        ),
        "custom_tool_call" => push(
            turns,
            Role::Assistant,
            vec![Block::ToolUse {
                id: call_id(),
                name: item["name"].as_str().unwrap_or_default().to_string(),
                input: json!({"input": item["input"].as_str().unwrap_or_default()}),
            }],
        ),
        "function_call_output" | "custom_tool_call_output" => push(
            turns,
            Role::User,
            vec![Block::ToolResult {
                tool_use_id: call_id(),
                content: text_of_content(&item["output"]),
                is_error: false,
            }],
        ),
        "reasoning" => {
            let text = item["summary"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            // Only a Claude signature can go back (to Claude); OpenAI's encrypted
            // reasoning means nothing elsewhere and is dropped with the item's text
            // kept as unsigned thinking (which the upstream sides leave out).
            let signature = item["encrypted_content"]
                .as_str()
                .and_then(|c| c.strip_prefix(SIGNATURE_PREFIX))
                .unwrap_or_default()
                .to_string();
            push(
                turns,
                Role::Assistant,
                vec![Block::Thinking { text, signature }],
            );
        }
        other => {
            return Err(ApiError::invalid_param(
                "input",
                format!(
                    "input item type '{}' is not supported by the gateway",
                    crate::core::text::truncate(other, 60)
                ),
            ))
        }
    }
    Ok(())
}

/// A Responses request (its `previous_response_id` already resolved into `input`) as the
/// core's request.
pub fn decode_request(raw: &[u8]) -> Result<Request, ApiError> {
    /// The body with its input left as text (read item by item).
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(borrow, default)]
        input: Option<&'a RawValue>,
        #[serde(flatten)]
        rest: Map<String, Value>,
    }
    let Body { input, rest: body } = serde_json::from_slice(raw)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let mut call = Request {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..Request::default()
    };
    if let Some(instructions) = body.get("instructions").and_then(Value::as_str) {
        call.system.push(TextPart::new(instructions));
    }
    read_input(input, &mut call.turns)?;
    call.tools = read_tools(body.get("tools"))?.tools;
    call.tool_choice = match body.get("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        },
        Some(Value::Object(o)) => match (o.get("type").and_then(Value::as_str), o.get("name")) {
            (Some("function" | "custom"), Some(Value::String(name))) => {
                Some(ToolChoice::Tool(name.clone()))
            }
            _ => Some(ToolChoice::Auto),
        },
        _ => None,
    };
    if call.tools.is_empty() {
        call.tool_choice = None;
    }
    call.parallel_tool_calls = body.get("parallel_tool_calls").and_then(Value::as_bool);
    call.sampling = Sampling {
        temperature: body.get("temperature").and_then(Value::as_f64),
        top_p: body.get("top_p").and_then(Value::as_f64),
        stop: Vec::new(),
    };
    call.max_output_tokens = body.get("max_output_tokens").and_then(Value::as_i64);
    call.reasoning = body
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
        .and_then(|e| match e {
            "xhigh" => Some(Effort::High),
            "none" => None,
            other => Effort::parse(other),
        })
        .map(Reasoning::Effort);
    call.response_format = body
        .get("text")
        .and_then(|t| t.get("format"))
        .and_then(|f| match f["type"].as_str()? {
            "json_object" => Some(ResponseFormat::JsonObject),
            "json_schema" => Some(ResponseFormat::JsonSchema {
                name: f["name"].as_str().unwrap_or("response").to_string(),
                schema: f.get("schema").cloned().unwrap_or_else(|| json!({})),
                strict: f.get("strict").and_then(Value::as_bool),
            }),
            _ => None,
        });
    call.user = body
        .get("user")
        .or_else(|| body.get("safety_identifier"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(call)
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
