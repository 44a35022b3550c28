//! The `/v1/images/edits` multipart body: `image` (or `image[]`) parts, an
//! optional `mask`, and the other fields as text. Parsed from the bytes
//! already read (bounded by `server.max_body_bytes`) with `multer`, each part
//! bounded too; nothing is written to disk. Every refusal is a 400 that names
//! the field.

use std::convert::Infallible;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::server::error::{ApiError, Code};
use crate::translate::images::{sniff, InputImage};

/// The most parts one form may have: 16 images, a mask and the fields.
pub(super) const MAX_PARTS: usize = 40;
/// The most input images (OpenAI's limit).
pub(super) const MAX_IMAGES: usize = 16;
/// The largest image part.
pub(super) const MAX_IMAGE_BYTES: u64 = 20 << 20;
/// The largest mask (OpenAI's limit).
pub(super) const MAX_MASK_BYTES: u64 = 4 << 20;
/// The largest text field (a 32 000-character prompt in four-byte UTF-8).
pub(super) const MAX_TEXT_BYTES: usize = 128 << 10;

/// A parsed edit form.
#[derive(Debug, Default)]
pub(super) struct Form {
    pub fields: Map<String, Value>,
    pub images: Vec<InputImage>,
    pub mask: Option<InputImage>,
}

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidRequest, message).with_param(param)
}

/// Reads the form in `body`, whose type `headers` give.
pub(super) async fn read(headers: &HeaderMap, body: Bytes) -> Result<Form, ApiError> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(ct).map_err(|e| {
        invalid(
            "body",
            format!("/v1/images/edits takes a multipart/form-data body with a boundary: {e}"),
        )
    })?;
    let limits = multer::SizeLimit::new()
        .whole_stream(body.len() as u64)
        .per_field(MAX_IMAGE_BYTES)
        .for_field("mask", MAX_MASK_BYTES);
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut parts = multer::Multipart::with_constraints(
        stream,
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let mut form = Form::default();
    let mut count = 0;
    while let Some(field) = parts.next_field().await.map_err(malformed)? {
        count += 1;
        if count > MAX_PARTS {
            return Err(invalid(
                "body",
                format!("the form has more than {MAX_PARTS} parts"),
            ));
        }
        let name = field.name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(malformed)?;
        add(&mut form, &name, bytes)?;
    }
    Ok(form)
}

/// One part into the form.
fn add(form: &mut Form, name: &str, bytes: Bytes) -> Result<(), ApiError> {
    match name {
        "image" | "image[]" => {
            if form.images.len() >= MAX_IMAGES {
                return Err(invalid(
                    "image",
                    format!("at most {MAX_IMAGES} images can be edited at once"),
                ));
            }
            form.images.push(image("image", bytes, false)?);
        }
        "mask" => {
            if form.mask.is_some() {
                return Err(invalid("mask", "the form has more than one 'mask' part"));
            }
            form.mask = Some(image("mask", bytes, true)?);
        }
        "" => return Err(invalid("body", "a form part has no name")),
        "markup" => {
            return Err(ApiError::new(
                Code::UnsupportedParameter,
                "'markup' is not supported by this backend: use 'mask' to mark the area to edit",
            )
            .with_param("markup"))
        }
        _ => {
            if bytes.len() > MAX_TEXT_BYTES {
                return Err(invalid(
                    name,
                    format!("the '{name}' field is larger than {MAX_TEXT_BYTES} bytes"),
                ));
            }
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| invalid(name, format!("the '{name}' field is not UTF-8 text")))?;
            if form
                .fields
                .insert(name.to_string(), Value::String(text))
                .is_some()
            {
                return Err(invalid(
                    name,
                    format!("the form has more than one '{name}' field"),
                ));
            }
        }
    }
    Ok(())
}

/// An image part, its type read from its bytes (a mask must be a PNG: its
/// transparent pixels mark the area to edit).
fn image(name: &str, bytes: Bytes, png_only: bool) -> Result<InputImage, ApiError> {
    let mime = sniff(&bytes);
    match mime {
        Some("image/png") => {}
        Some(_) if !png_only => {}
        Some(_) => {
            return Err(invalid(
                name,
                format!("the '{name}' part must be a PNG image"),
            ))
        }
        None => {
            return Err(invalid(
                name,
                format!("the '{name}' part is not a PNG, JPEG or WebP image"),
            ))
        }
    }
    Ok(InputImage {
        mime: mime.unwrap_or("image/png"),
        bytes,
    })
}

/// A body multer could not read: a 400 naming the field where it can.
fn malformed(e: multer::Error) -> ApiError {
    let field = match &e {
        multer::Error::FieldSizeExceeded { field_name, .. }
        | multer::Error::IncompleteFieldData { field_name }
        | multer::Error::UnknownField { field_name } => field_name.clone(),
        _ => None,
    };
    let name = field.unwrap_or_else(|| "body".to_string());
    let message = match &e {
        multer::Error::FieldSizeExceeded { limit, .. } => {
            format!("the '{name}' part is larger than {limit} bytes")
        }
        _ => format!("the multipart body is malformed near '{name}': {e}"),
    };
    invalid(&name, message)
}
