//! `GET /v1/models` and `GET /v1/models/{id}` from the cached catalog.

use http::{Response, StatusCode};

use super::body::{self, Body};
use crate::app::App;
use crate::error::ApiError;

pub fn list(app: &App) -> Response<Body> {
    body::json(StatusCode::OK, &app.models.load().list())
}

pub fn get(app: &App, id: &str) -> Response<Body> {
    match app.models.load().get(id) {
        Some(m) => body::json(StatusCode::OK, &m),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("the model {id:?} does not exist"),
        )
        .with_param("model")
        .into_response(),
    }
}
