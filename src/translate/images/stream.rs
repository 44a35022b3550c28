//! A live upstream stream → the Images API's stream events:
//! `response.image_generation_call.partial_image` becomes
//! `image_generation.partial_image` (`image_edit.partial_image` on edits), and
//! the finished `image_generation_call` becomes `image_generation.completed`,
//! sent once `response.completed` has brought the image tokens.

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::{json, Value};

use super::answer::{spent, Call, Made};
use super::{ImageRequest, Kind};
use crate::translate::convert::{Convert, Step};
use crate::upstream::events::{Event, ImageUsage, Kind as EventKind, Relayed, Usage};
use crate::upstream::sse;
use crate::upstream::Failure;

/// The upstream event that carries a partial image.
const PARTIAL: &str = "response.image_generation_call.partial_image";

/// The conversion state of one streamed image.
#[derive(Debug)]
pub struct ImageStream {
    kind: Kind,
    created: u64,
    /// What the client asked for, shown where upstream does not say.
    size: String,
    quality: String,
    background: String,
    output_format: String,
    /// The finished image, waiting for `response.completed` and its usage.
    image: Option<Made>,
    model: Option<String>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Partial {
    #[serde(default)]
    partial_image_b64: String,
    #[serde(default)]
    partial_image_index: u64,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    quality: Option<String>,
    #[serde(default)]
    background: Option<String>,
    #[serde(default)]
    output_format: Option<String>,
}

impl ImageStream {
    pub fn new(request: &ImageRequest, kind: Kind, created: u64) -> ImageStream {
        let asked = |name: &str, default: &str| request.option(name).unwrap_or(default).to_string();
        ImageStream {
            kind,
            created,
            size: asked("size", "auto"),
            quality: asked("quality", "auto"),
            background: asked("background", "auto"),
            output_format: asked("output_format", "png"),
            image: None,
            model: None,
            usage: None,
        }
    }

    fn name(&self, what: &str) -> String {
        match self.kind {
            Kind::Generation => format!("image_generation.{what}"),
            Kind::Edit => format!("image_edit.{what}"),
        }
    }

    /// Appends what the client gets for one upstream event (`data` parsed
    /// as `event`).
    fn step(&mut self, data: &str, event: &Event<'_>, out: &mut BytesMut) -> Step {
        match event.kind() {
            EventKind::Other if event.name == PARTIAL => {
                if let Ok(p) = serde_json::from_str::<Partial>(data) {
                    self.partial(p, out);
                }
                Step::Continue
            }
            EventKind::OutputItemDone => {
                let Some(call) = event
                    .item
                    .as_ref()
                    .and_then(|r| serde_json::from_str::<Call>(r.get()).ok())
                    .filter(|c| c.kind == "image_generation_call")
                else {
                    return Step::Continue;
                };
                match call.into_made(None) {
                    Ok(made) => {
                        self.image = Some(made);
                        Step::Continue
                    }
                    Err(f) => self.fail(f, out),
                }
            }
            EventKind::Completed | EventKind::Incomplete => {
                let info = event.response().unwrap_or_default();
                let image_usage = info.tool_usage.and_then(|t| t.image_gen);
                self.usage = spent(info.usage.as_ref(), image_usage.as_ref());
                self.model = info.model;
                let Some(made) = self.image.take() else {
                    return self.fail(
                        Failure::StreamFailed {
                            code: Some("image_generation_failed".into()),
                            message: "upstream finished without an image".into(),
                        },
                        out,
                    );
                };
                self.completed(made, image_usage.unwrap_or_default(), out);
                Step::Done
            }
            EventKind::Failed | EventKind::Error => match event.failure() {
                Some(f) => self.fail(f, out),
                None => Step::Continue,
            },
            _ => Step::Continue,
        }
    }

    fn partial(&self, p: Partial, out: &mut BytesMut) {
        let event = json!({
            "type": self.name("partial_image"),
            "b64_json": p.partial_image_b64,
            "partial_image_index": p.partial_image_index,
            "created_at": self.created,
            "size": p.size.unwrap_or_else(|| self.size.clone()),
            "quality": p.quality.unwrap_or_else(|| self.quality.clone()),
            "background": p.background.unwrap_or_else(|| self.background.clone()),
            "output_format": p.output_format.unwrap_or_else(|| self.output_format.clone()),
        });
        let name = self.name("partial_image");
        sse::encode(Some(&name), &event.to_string(), out);
    }

    fn completed(&self, made: Made, usage: ImageUsage, out: &mut BytesMut) {
        let mut event = json!({
            "type": self.name("completed"),
            "b64_json": made.b64,
            "created_at": self.created,
            "size": made.size.unwrap_or_else(|| self.size.clone()),
            "quality": made.quality.unwrap_or_else(|| self.quality.clone()),
            "background": made.background.unwrap_or_else(|| self.background.clone()),
            "output_format": made.output_format.unwrap_or_else(|| self.output_format.clone()),
            "usage": usage,
        });
        if let Some(p) = made.revised_prompt {
            event["revised_prompt"] = json!(p);
        }
        let name = self.name("completed");
        sse::encode(Some(&name), &event.to_string(), out);
    }

    fn fail(&self, f: Failure, out: &mut BytesMut) -> Step {
        error_frame(&f, out);
        Step::Failed(f)
    }
}

/// The stream of one image, through the relay.
impl Convert for ImageStream {
    fn convert(&mut self, relayed: Relayed<'_>, out: &mut BytesMut) -> Step {
        match relayed.event {
            Some(event) => self.step(relayed.data, event, out),
            None => Step::Continue,
        }
    }

    fn error_frame(&self, failure: &Failure, out: &mut BytesMut) {
        error_frame(failure, out);
    }

    /// The model and usage (model and image tokens together) the finished
    /// stream reported.
    fn outcome(&self) -> (Option<&str>, Option<&Usage>) {
        (self.model.as_deref(), self.usage.as_ref())
    }
}

/// The frame that tells an Images API client its stream failed: an `error`
/// event whose data carries an OpenAI error object (the SDK raises it).
pub fn error_frame(f: &Failure, out: &mut BytesMut) {
    let status = f.client_status();
    let kind = if status.is_client_error() {
        "invalid_request_error"
    } else {
        "server_error"
    };
    let data = json!({"type": "error", "error": {
        "message": f.to_string(), "type": kind, "code": f.client_code(), "param": Value::Null,
    }});
    sse::encode(Some("error"), &data.to_string(), out);
}
