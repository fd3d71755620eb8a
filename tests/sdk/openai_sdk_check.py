"""Drives a running gateway with the official OpenAI Python SDK.

Usage: python3 openai_sdk_check.py BASE_URL TOKEN
Exits non-zero (with the failing assertion) if any answer is not what the SDK expects.
"""
import json
import sys

from openai import OpenAI


def main() -> None:
    base, token = sys.argv[1], sys.argv[2]
    client = OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)

    chat = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}], max_tokens=4
    )
    assert chat.choices[0].message.content == "tok0 tok1 tok2 tok3 ", chat
    assert chat.usage.completion_tokens == 4, chat.usage

    prefixed = client.chat.completions.create(
        model="mock/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert prefixed.choices[0].finish_reason == "stop", prefixed

    pieces, usage_chunks = [], 0
    for chunk in client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=6, stream=True
    ):
        if chunk.usage is not None:
            usage_chunks += 1
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
    assert "".join(pieces) == "".join(f"tok{i} " for i in range(6)), pieces
    assert usage_chunks == 0, "client did not ask for usage, so it must not get a usage chunk"

    last = None
    for chunk in client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=3,
        stream=True,
        stream_options={"include_usage": True},
    ):
        last = chunk
    assert last is not None and last.usage is not None and last.usage.completion_tokens == 3, last

    emb = client.embeddings.create(model="text-embedding-3-small", input=["a", "bb"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 8, emb
    assert emb.usage.prompt_tokens > 0

    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o-mini", "mock/gpt-4o-mini", "text-embedding-3-small"} <= ids, ids

    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("expected a 404")
    except Exception as e:  # the SDK raises NotFoundError with the parsed error body
        assert type(e).__name__ == "NotFoundError", repr(e)
        assert e.body["type"] == "not_found_error", e.body

    check_claude(client)
    print("openai sdk: all checks passed")


WEATHER = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}]


def check_claude(client: OpenAI) -> None:
    """An anthropic provider behind the OpenAI API (the gateway translates)."""
    model = "claude/claude-sonnet-4-5"
    plain = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    )
    assert plain.choices[0].message.content.startswith("tok0"), plain
    assert plain.usage.prompt_tokens > 0 and plain.usage.completion_tokens == 8, plain.usage

    asked = [{"role": "user", "content": "Weather in Paris?"}]
    call = client.chat.completions.create(model=model, messages=asked, tools=WEATHER)
    assert call.choices[0].finish_reason == "tool_calls", call
    tool_call = call.choices[0].message.tool_calls[0]
    assert tool_call.function.name == "get_weather", tool_call
    assert json.loads(tool_call.function.arguments)["city"] == "Paris", tool_call
    final = client.chat.completions.create(
        model=model,
        tools=WEATHER,
        messages=asked
        + [
            {"role": "assistant", "content": None, "tool_calls": [tool_call.model_dump()]},
            {"role": "tool", "tool_call_id": tool_call.id, "content": "18 C"},
        ],
    )
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content, final

    # Streamed tool call: the SDK's own accumulation of the argument deltas.
    with client.beta.chat.completions.stream(model=model, messages=asked, tools=WEATHER) as stream:
        for _ in stream:
            pass
        done = stream.get_final_completion()
    streamed_call = done.choices[0].message.tool_calls[0]
    assert json.loads(streamed_call.function.arguments) == json.loads(tool_call.function.arguments), done

    image = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]}],
    )
    assert image.choices[0].message.content, image

    last = None
    for chunk in client.chat.completions.create(
        model=model, messages=asked, stream=True, stream_options={"include_usage": True}
    ):
        last = chunk
    assert last is not None and last.usage is not None and last.usage.total_tokens > 0, last


if __name__ == "__main__":
    main()
