"""Drives a running gateway's /v1/messages with the official Anthropic Python SDK.

Usage: python3 anthropic_sdk_check.py BASE_URL TOKEN MODEL [MODEL ...]
Each MODEL is served by a different provider type; every check runs against each.
Exits non-zero (with the failing assertion) if any answer is not what the SDK expects.
"""
import json
import sys

import anthropic

WEATHER = [{
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]


def check(client: anthropic.Anthropic, model: str) -> None:
    msg = client.messages.create(
        model=model,
        max_tokens=64,
        system="You are terse.",
        messages=[{"role": "user", "content": "Hello"}],
    )
    assert msg.type == "message" and msg.role == "assistant", msg
    assert msg.content[0].type == "text" and msg.content[0].text.startswith("tok0"), msg
    assert msg.stop_reason == "end_turn", msg
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens == 8, msg.usage

    text = []
    with client.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    ) as stream:
        for piece in stream.text_stream:
            text.append(piece)
        final = stream.get_final_message()
    assert "".join(text) == "".join(f"tok{i} " for i in range(8)), text
    assert final.usage.output_tokens == 8, final.usage

    asked = [{"role": "user", "content": "Weather in Paris?"}]
    used = client.messages.create(model=model, max_tokens=256, tools=WEATHER, messages=asked)
    assert used.stop_reason == "tool_use", used
    call = next(b for b in used.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input["city"] == "Paris", call
    answered = client.messages.create(
        model=model,
        max_tokens=256,
        tools=WEATHER,
        messages=asked
        + [
            {"role": "assistant", "content": [b.model_dump() for b in used.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}]},
        ],
    )
    assert answered.stop_reason == "end_turn" and answered.content[0].type == "text", answered

    with client.messages.stream(model=model, max_tokens=256, tools=WEATHER, messages=asked) as stream:
        streamed = stream.get_final_message()
    streamed_call = next(b for b in streamed.content if b.type == "tool_use")
    assert streamed_call.input == call.input, (streamed_call, call)

    try:
        count = client.messages.count_tokens(model=model, messages=asked)
    except anthropic.APIStatusError as e:
        raise AssertionError(f"count_tokens: {e.status_code} {e.body}")
    assert count.input_tokens > 0, count


def main() -> None:
    base, token, models = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = anthropic.Anthropic(base_url=base, api_key=token, max_retries=0)
    for model in models:
        check(client, model)

    try:
        client.messages.create(model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("expected a 404")
    except anthropic.NotFoundError as e:
        assert e.body["type"] == "error" and e.body["error"]["type"] == "not_found_error", e.body
    try:
        anthropic.Anthropic(base_url=base, api_key="gz-wrong", max_retries=0).messages.create(
            model=models[0], max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
        raise AssertionError("expected a 401")
    except anthropic.AuthenticationError as e:
        assert e.body["error"]["type"] == "authentication_error", e.body
    print("anthropic sdk: all checks passed")


if __name__ == "__main__":
    main()
