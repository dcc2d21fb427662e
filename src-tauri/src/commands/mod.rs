//! The commands the front end invokes, one module per view.

pub mod models;
pub mod settings;
