//! Each HTTP surface end to end, and the edge every request passes.

mod chat;
mod edge;
mod input;
mod limits;
mod messages;
mod models;
mod native;
mod responses;
