"""The official OpenAI Python SDK's Images API against the real codex-pool binary.

Starts the mock upstream (examples/mock_upstream, recording what it gets) and
`codex-pool serve`, then generates, edits and streams images exactly as users
do, and checks what reached upstream: the forced image_generation tool, its
options, the input image's bytes, the account's token.
Binaries come from GATEWAY_BIN and MOCK_BIN (default: target/debug).
"""

import base64
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import openai
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GATEWAY_BIN = os.environ.get("GATEWAY_BIN", os.path.join(ROOT, "target/debug/codex-pool"))
MOCK_BIN = os.environ.get("MOCK_BIN", os.path.join(ROOT, "target/debug/examples/mock_upstream"))
CLIENT_KEY = "sk-sdk-images-key-123"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A 2x2 PNG (the mock's partial image), as an input image.
INPUT_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAEElEQVR4nGNgYPjfAMFQBgAw8AX9Gkcy+wAAAABJRU5ErkJggg=="
)


def jwt(payload):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    return f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(payload).encode())}.sig"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class Upstream:
    """The recording mock: what reached it, newest last."""

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
def stack():
    procs = []
    tmp = tempfile.TemporaryDirectory()
    try:
        mock = subprocess.Popen([MOCK_BIN, "--port", "0", "--record"], stdout=subprocess.PIPE, text=True)
        procs.append(mock)
        line = mock.stdout.readline().strip()
        assert line.startswith("listening on "), line
        mock_addr = line.removeprefix("listening on ")
        token = jwt({"exp": int(time.time()) + 3600, "who": "images"})
        auth = {
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": None,
            "tokens": {
                "id_token": jwt({"email": "img@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-img", "chatgpt_plan_type": "plus"}}),
                "access_token": token,
                "refresh_token": "rt-img",
                "account_id": "acct-img",
            },
            "last_refresh": "2026-11-01T00:00:00Z",
        }
        auth_path = os.path.join(tmp.name, "img.json")
        with open(os.open(auth_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            json.dump(auth, f)
        port = free_port()
        config = os.path.join(tmp.name, "config.toml")
        with open(config, "w") as f:
            f.write(f"""
[server]
listen = "127.0.0.1:{port}"
[upstream]
base_url = "http://{mock_addr}/backend-api/codex"
issuer = "http://{mock_addr}"
[[accounts]]
name = "img"
auth_file = "img.json"
[[api_keys]]
name = "artist"
key = "{CLIENT_KEY}"
""")
        gw = subprocess.Popen([GATEWAY_BIN, "serve", "--config", config], stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=CLIENT_KEY, max_retries=0)
        yield client, Upstream(mock_addr, token)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        tmp.cleanup()


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
