//! `assay fleet status`: every gateway of a fleet as it is now, asked in parallel, and the
//! saved rollout.

use serde::{Deserialize, Serialize};

use super::{file::FleetFile, state::RolloutState};
use crate::views::GatewayStatus;

/// One gateway, reachable or not.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct FleetMember {
    pub name: String,
    pub url: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// Its status, when it answered.
    pub status: Option<GatewayStatus>,
    /// Why it did not.
    pub error: Option<String>,
}

/// A fleet, and the rollout saved for a model, if any.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct FleetStatus {
    pub fleet: String,
    pub gateways: Vec<FleetMember>,
    pub rollout: Option<RolloutState>,
    /// Whether `assay fleet halt` asked the rollout to stop.
    pub halt_requested: bool,
}

/// Asks every gateway for its status, side by side.
pub fn status(
    file: &FleetFile,
    rollout: Option<RolloutState>,
    halt_requested: bool,
) -> FleetStatus {
    let gateways = std::thread::scope(|sc| {
        let handles: Vec<_> = file
            .gateways
            .iter()
            .map(|g| {
                sc.spawn(move || {
                    let answer = file.client(g).and_then(|c| {
                        c.get_as::<GatewayStatus>(
                            "/admin/v1/status",
                            std::time::Duration::from_secs(10),
                        )
                    });
                    FleetMember {
                        name: g.name.clone(),
                        url: g.url.clone(),
                        labels: g.labels.clone(),
                        error: answer.as_ref().err().map(|e| e.to_string()),
                        status: answer.ok(),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a status thread does not panic"))
            .collect()
    });
    FleetStatus {
        fleet: file.name.clone(),
        gateways,
        rollout,
        halt_requested,
    }
}
