"""The official OpenAI Python SDK's Responses API (`client.responses.*`) against the gateway.

Usage: openai_responses_check.py BASE_URL TOKEN MODEL [MODEL ...]
Each model is served by another provider type (OpenAI-compatible translated to Chat
Completions, Anthropic translated to Messages, a native Responses provider); every check
runs against each.
"""
import json
import sys

import openai
from openai import OpenAI

base, token, models = sys.argv[1], sys.argv[2], sys.argv[3:]
client = OpenAI(base_url=base + "/v1", api_key=token, max_retries=0)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}


def check(model):
    # A plain call, stored by default.
    r = client.responses.create(model=model, input="Say hello", instructions="Be brief.")
    assert r.status == "completed", r
    assert r.output_text.startswith("tok0"), r.output_text
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r.usage
    assert r.usage.output_tokens_details.reasoning_tokens >= 0
    assert r.usage.input_tokens_details.cached_tokens >= 0

    got = client.responses.retrieve(r.id)
    assert got.id == r.id and got.output_text == r.output_text, got
    items = client.responses.input_items.list(r.id)
    texts = [c.text for i in items.data for c in (i.content or [])]
    assert texts == ["Say hello"], texts

    # The cap bit: incomplete, with the reason.
    r = client.responses.create(model=model, input="Count", max_output_tokens=3)
    assert r.status == "incomplete", r.status
    assert r.incomplete_details.reason == "max_output_tokens", r.incomplete_details

    # Streaming: the real event sequence, numbered.
    kinds, numbers, deltas = [], [], []
    with client.responses.stream(model=model, input="Stream please") as stream:
        for event in stream:
            kinds.append(event.type)
            numbers.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    assert "response.output_item.added" in kinds and "response.output_text.done" in kinds, kinds
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), numbers
    assert "".join(deltas) == final.output_text and final.output_text.startswith("tok0")

    # A function call, answered through previous_response_id.
    first = client.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER])
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather", first.output
    assert json.loads(calls[0].arguments)["city"] == "Paris"
    second = client.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "22 C"}],
        tools=[WEATHER],
    )
    assert second.status == "completed" and second.output_text.startswith("tok0"), second
    assert second.previous_response_id == first.id

    # store=False with the whole conversation as items (Codex's way): no state needed,
    # and nothing stored.
    items = [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather",
         "arguments": calls[0].arguments},
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "22 C"},
    ]
    third = client.responses.create(model=model, input=items, tools=[WEATHER], store=False)
    assert third.output_text.startswith("tok0"), third
    try:
        client.responses.retrieve(third.id)
        raise AssertionError("a store=False response was stored")
    except openai.NotFoundError:
        pass

    # Streamed function call.
    with client.responses.stream(model=model, input="Weather?", tools=[WEATHER]) as stream:
        final = stream.get_final_response()
    assert [o.type for o in final.output] == ["function_call"], final.output

    # Delete: gone afterwards.
    deleted = client.responses.delete(first.id)
    try:
        client.responses.retrieve(first.id)
        raise AssertionError("a deleted response is still there")
    except openai.NotFoundError:
        pass

    # Errors in OpenAI's shape.
    try:
        client.responses.create(model=model, input="x", previous_response_id="resp_nope")
        raise AssertionError("an unknown previous_response_id was accepted")
    except openai.NotFoundError as e:
        assert e.body["type"] == "not_found_error", e.body


for model in models:
    check(model)
    print(f"ok {model}")
