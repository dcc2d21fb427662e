//! The commands the front end invokes, one module per view (jobs and files are shared).

pub mod files;
pub mod gateways;
pub mod jobs;
pub mod keys;
pub mod models;
pub mod probe;
pub mod profiles;
pub mod releases;
pub mod runs;
pub mod settings;
