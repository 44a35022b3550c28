//! Each HTTP surface end to end, and the edge every request passes.

mod admission;
mod catalog;
mod chat;
mod console;
mod edge;
mod images;
mod input;
mod large_bodies;
mod limits;
mod messages;
mod models;
mod native;
mod responses;
mod stop_sequences;
