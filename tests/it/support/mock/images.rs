//! The mock's image generation: a request that forces the `image_generation`
//! tool gets a stream that makes a real (tiny) PNG, with the partial images
//! the tool asked for, the way the backend answers (`docs/upstream.md` §10);
//! an account marked as on a plan without images gets the backend's 400.

use serde_json::{json, Value};

/// A 2×2 red PNG, base64: the final image.
pub const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAEUlEQVR4nGP4z8DwH4QZYAwAR8oH+WdZbrcAAAAASUVORK5CYII=";
/// A 2×2 translucent blue PNG, base64: each partial image.
pub const PARTIAL_PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAEElEQVR4nGNgYPjfAMFQBgAw8AX9Gkcy+wAAAABJRU5ErkJggg==";

/// The image tokens the mock reports per image.
pub const IMAGE_INPUT_TOKENS: u64 = 50;
pub const IMAGE_OUTPUT_TOKENS: u64 = 272;

/// The `image_generation` tool a request offers, if it does.
pub fn tool(body: &Value) -> Option<&Value> {
    body.get("tools")?
        .as_array()?
        .iter()
        .find(|t| t["type"] == "image_generation")
}

/// What the backend says to a plan without image generation (ChatGPT Free)
/// when the tool is forced.
pub fn refusal() -> Value {
    json!({"error": {"message": "Tool choice 'image_generation' not found in 'tools' parameter.",
        "type": "invalid_request_error", "param": "tool_choice", "code": null}})
}

/// The stream for an image request on `model`.
pub fn answer(body: &Value, model: &str) -> Vec<Value> {
    let tool = tool(body).cloned().unwrap_or_default();
    let opt = |name: &str, default: &str| tool[name].as_str().unwrap_or(default).to_string();
    let size = match opt("size", "auto").as_str() {
        "auto" => "1024x1024".to_string(),
        s => s.to_string(),
    };
    let content = &body["input"][0]["content"];
    let prompt = content[0]["text"].as_str().unwrap_or("");
    let inputs = content.as_array().map_or(0, |c| {
        c.iter().filter(|p| p["type"] == "input_image").count()
    });
    let revised = format!("{prompt} (revised; {inputs} input images)");
    let partials = tool["partial_images"].as_u64().unwrap_or(0);
    let item =
        |status: &str| json!({"type": "image_generation_call", "id": "ig_1", "status": status});
    let mut ev = vec![
        json!({"type": "response.created", "response": {"id": "resp_img", "model": model, "status": "in_progress", "output": []}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item("in_progress")}),
        json!({"type": "response.image_generation_call.in_progress", "item_id": "ig_1", "output_index": 0, "sequence_number": 2}),
        json!({"type": "response.image_generation_call.generating", "item_id": "ig_1", "output_index": 0, "sequence_number": 3}),
    ];
    for i in 0..partials {
        ev.push(json!({"type": "response.image_generation_call.partial_image", "item_id": "ig_1", "output_index": 0,
            "sequence_number": 4 + i, "partial_image_index": i, "partial_image_b64": PARTIAL_PNG_B64,
            "size": size, "quality": opt("quality", "medium"), "background": opt("background", "opaque"), "output_format": opt("output_format", "png")}));
    }
    let done = json!({"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": PNG_B64,
        "revised_prompt": revised, "size": size, "quality": opt("quality", "medium"),
        "background": opt("background", "opaque"), "output_format": opt("output_format", "png")});
    ev.push(json!({"type": "response.output_item.done", "output_index": 0, "item": done}));
    ev.push(json!({"type": "response.completed", "response": {"id": "resp_img", "object": "response", "model": model,
        "status": "completed", "output": [done],
        "usage": {"input_tokens": 30, "output_tokens": 10, "total_tokens": 40},
        "tool_usage": {"image_gen": {"input_tokens": IMAGE_INPUT_TOKENS,
            "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
            "output_tokens": IMAGE_OUTPUT_TOKENS, "total_tokens": IMAGE_INPUT_TOKENS + IMAGE_OUTPUT_TOKENS}}}}));
    ev
}
