//! `GET /v1/models` and `GET /v1/models/{id}` from the cached catalog.

use http::{Response, StatusCode};

use super::body::{self, Body};
use super::error::{ApiError, Code};
use crate::app::App;

pub fn list(app: &App) -> Response<Body> {
    body::json(StatusCode::OK, &app.models.load().list())
}

pub fn get(app: &App, id: &str) -> Response<Body> {
    match app.models.load().get(id) {
        Some(m) => body::json(StatusCode::OK, &m),
        None => ApiError::new(
            Code::ModelNotFound,
            format!("the model {id:?} does not exist"),
        )
        .with_param("model")
        .into_response(),
    }
}
