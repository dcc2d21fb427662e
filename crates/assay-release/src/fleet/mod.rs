//! Fleets: many gateways outside a cluster (or across clusters), rolled out to in waves.
//!
//! - [`file`]: the fleet file (gateways, tokens, labels; the waves and what passes);
//! - [`state`]: a rollout's saved progress, step by step;
//! - [`rollout`]: the waves, each gateway's pull, canary and analysis, and the rollback of
//!   every changed gateway when one fails;
//! - [`status`]: every gateway as it is now.
//!
//! The gateways do the work that matters (pulling from the registry, verifying against
//! their own trusted keys, the canary analysis); the rollout only sequences them.

pub mod file;
pub mod rollout;
pub mod state;
pub mod status;

pub use file::FleetFile;
pub use rollout::{rollback, rollout};
pub use state::{FleetEvent, RolloutState, RolloutStatus, default_path, halt_marker};
pub use status::{FleetStatus, status};
