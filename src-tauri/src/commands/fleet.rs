//! The Fleet view: every gateway of a fleet file, as it is now, and the saved rollout of a
//! model. Rollouts run in the worker (`start_job` with `FleetRollout`), which saves their
//! progress where this reads it.

use assay_release::fleet::{self, FleetFile, FleetStatus, RolloutState};

use super::blocking;
use crate::error::UiError;

/// `fleet_status`: the fleet file read, every gateway asked (side by side, each with its
/// own timeout), and the saved rollout of `model` when one is named.
#[tauri::command]
pub async fn fleet_status(path: String, model: Option<String>) -> Result<FleetStatus, UiError> {
    blocking(move || {
        let file = FleetFile::load(path.trim().as_ref())?;
        let (saved, halt) = match model.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) => {
                let p = fleet::default_path(&file.name, m);
                (RolloutState::load(&p)?, fleet::halt_marker(&p).exists())
            }
            None => (None, false),
        };
        Ok(fleet::status(&file, saved, halt))
    })
    .await
}
