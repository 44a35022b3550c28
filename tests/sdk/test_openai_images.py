"""The official OpenAI Python SDK's Images API against the real codex-pool binary
(the gateway of conftest.py): generates, edits and streams images exactly as
users do, and checks what reached upstream (the recording mock): the forced
image_generation tool, its options, the input image's bytes, the account's
token.
"""

import base64
import json
import urllib.request

import openai
import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A 2x2 PNG (the mock's partial image), as an input image.
INPUT_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAEElEQVR4nGNgYPjfAMFQBgAw8AX9Gkcy+wAAAABJRU5ErkJggg=="
)


class Upstream:
    """The recording mock: what reached its /responses, oldest first."""

    def __init__(self, addr, token):
        self.addr = addr
        self.token = token

    def seen(self):
        with urllib.request.urlopen(f"http://{self.addr}/mock/seen", timeout=5) as r:
            return [s for s in json.load(r) if s["path"].endswith("/responses")]

    def clear(self):
        req = urllib.request.Request(f"http://{self.addr}/mock/clear", method="POST")
        urllib.request.urlopen(req, timeout=5).close()


@pytest.fixture(scope="module")
def stack(gateway):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.keys["openai"], max_retries=0)
    return client, Upstream(gateway.mock, gateway.token)


def data_url_bytes(url, mime="image/png"):
    prefix = f"data:{mime};base64,"
    assert url.startswith(prefix), url[:60]
    return base64.b64decode(url[len(prefix):])


def test_generate_answers_a_png_through_the_forced_tool(stack):
    client, upstream = stack
    upstream.clear()
    r = client.images.generate(model="gpt-image-1", prompt="a red fox", size="1536x1024", quality="high",
                               background="opaque", output_compression=80, moderation="low")
    assert len(r.data) == 1
    assert base64.b64decode(r.data[0].b64_json).startswith(PNG_MAGIC)
    assert r.data[0].revised_prompt.startswith("a red fox")
    assert r.size == "1536x1024" and r.quality == "high" and r.output_format == "png"
    assert r.usage.output_tokens > 0 and r.usage.input_tokens_details.image_tokens >= 0
    [seen] = upstream.seen()
    assert seen["headers"]["authorization"] == f"Bearer {upstream.token}"
    body = seen["body"]
    assert body["tool_choice"] == {"type": "image_generation"}
    [tool] = body["tools"]
    assert tool["type"] == "image_generation"
    assert (tool["size"], tool["quality"], tool["background"]) == ("1536x1024", "high", "opaque")
    assert (tool["output_compression"], tool["moderation"]) == (80, "low")
    assert body["input"][0]["content"][0] == {"type": "input_text", "text": "a red fox"}


def test_generate_n_makes_that_many_calls(stack):
    client, upstream = stack
    upstream.clear()
    r = client.images.generate(prompt="two owls", n=2)
    assert len(r.data) == 2
    assert len(upstream.seen()) == 2


def test_edit_sends_the_image_and_the_mask(stack):
    client, upstream = stack
    upstream.clear()
    r = client.images.edit(
        model="gpt-image-1",
        image=("photo.png", INPUT_PNG, "image/png"),
        mask=("mask.png", INPUT_PNG, "image/png"),
        prompt="add a hat",
        input_fidelity="high",
    )
    assert base64.b64decode(r.data[0].b64_json).startswith(PNG_MAGIC)
    assert "1 input images" in r.data[0].revised_prompt
    [seen] = upstream.seen()
    body = seen["body"]
    content = body["input"][0]["content"]
    assert content[0]["text"] == "add a hat"
    assert data_url_bytes(content[1]["image_url"]) == INPUT_PNG
    [tool] = body["tools"]
    assert data_url_bytes(tool["input_image_mask"]["image_url"]) == INPUT_PNG
    assert tool["input_fidelity"] == "high"


def test_edit_with_several_images(stack):
    client, upstream = stack
    upstream.clear()
    r = client.images.edit(image=[("a.png", INPUT_PNG, "image/png"), ("b.png", INPUT_PNG, "image/png")], prompt="merge")
    assert len(r.data) == 1
    parts = upstream.seen()[0]["body"]["input"][0]["content"]
    assert [p["type"] for p in parts] == ["input_text", "input_image", "input_image"]


def test_stream_sends_partial_images_then_the_image(stack):
    client, upstream = stack
    upstream.clear()
    events = list(client.images.generate(prompt="a lighthouse", stream=True, partial_images=2))
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert base64.b64decode(events[-1].b64_json).startswith(PNG_MAGIC)
    assert events[-1].usage.total_tokens > 0
    assert upstream.seen()[0]["body"]["tools"][0]["partial_images"] == 2


def test_edit_stream_uses_the_edit_events(stack):
    client, _ = stack
    events = list(client.images.edit(image=("a.png", INPUT_PNG, "image/png"), prompt="p", stream=True, partial_images=1))
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]


def test_unsupported_requests_say_what_works(stack):
    client, upstream = stack
    upstream.clear()
    with pytest.raises(openai.BadRequestError) as e:
        client.images.generate(model="dall-e-3", prompt="p")
    assert "gpt-image-1" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        client.images.generate(prompt="p", response_format="url")
    assert "b64_json" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        client.images.edit(image=("a.txt", b"not an image", "text/plain"), prompt="p")
    assert e.value.body["param"] == "image"
    assert upstream.seen() == []
