//! Points for the crash-safety and timing tests, armed with
//! `ASSAY_GATEWAY_FAILPOINTS=name,...`. At a crash point ([`hit`]) the gateway stops (logging
//! that it did) until it is killed, so a test can `kill -9` it at exactly the moment that
//! matters; a slow point ([`armed`] at the call site) makes a thread take its time where a
//! race would otherwise be rare. Unset, a point costs one lookup.

use std::sync::OnceLock;

static POINTS: OnceLock<Vec<String>> = OnceLock::new();

/// Whether `name` is armed (for a point whose condition costs more than the lookup).
pub fn armed(name: &str) -> bool {
    let points = POINTS.get_or_init(|| {
        std::env::var("ASSAY_GATEWAY_FAILPOINTS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    });
    points.iter().any(|p| p == name)
}

/// Parks the calling thread forever when `name` is armed.
pub fn hit(name: &str) {
    if armed(name) {
        tracing::warn!(
            failpoint = name,
            "stopped at a failpoint; waiting to be killed"
        );
        eprintln!("assay-gateway: failpoint {name} reached");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
