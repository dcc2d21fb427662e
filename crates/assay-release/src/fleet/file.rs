//! The fleet file: the gateways a release manager rolls out to (URL, where the admin token
//! comes from, labels) and the plan (waves, canary size, what passes the analysis).
//!
//! ```toml
//! name = "prod"                         # names the saved rollout state
//!
//! [registry]                            # how this machine reads the release (optional;
//! ca_cert = "registry-ca.pem"           # credentials come from Docker's config)
//! plain_http = false
//!
//! [[gateway]]
//! name = "eu-1"
//! url = "https://gw-eu-1.example:8000"
//! token_file = "tokens/eu-1"            # or token_env = "GW_EU_1_TOKEN"
//! ca_cert = "ca.pem"                    # a private CA (paths are relative to this file)
//! labels = { region = "eu" }
//!
//! [rollout]
//! waves = ["1", "25%", "100%"]          # cumulative: one gateway, then a quarter, then all
//! select = { region = "eu" }            # only gateways with these labels (optional)
//! canary_percent = 10
//! requests = 500                        # the gateway's analysis may promote after this many
//! hold_s = 600                          # or: promote after this long without a rollback
//! timeout_s = 1800                      # a wave's gateway that decides nothing by then fails
//! ```

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::error::{ReleaseError, Result};

/// One gateway of the fleet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetGateway {
    pub name: String,
    pub url: String,
    pub token_file: Option<PathBuf>,
    pub token_env: Option<String>,
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// How a rollout proceeds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutPlan {
    #[serde(default = "default_waves")]
    pub waves: Vec<String>,
    #[serde(default)]
    pub select: BTreeMap<String, String>,
    #[serde(default = "default_percent")]
    pub canary_percent: f64,
    /// Candidate requests after which each gateway's own analysis may promote.
    pub requests: Option<u64>,
    /// Seconds after which the rollout promotes a canary the gateway did not roll back.
    pub hold_s: Option<u64>,
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// How often a gateway is asked how its canary does.
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
}

fn default_waves() -> Vec<String> {
    vec!["1".into(), "100%".into()]
}
fn default_percent() -> f64 {
    10.0
}
fn default_timeout() -> u64 {
    1800
}
fn default_poll() -> u64 {
    500
}

/// How the rollout reads the release's manifest to pin it (the gateways use their own
/// registry settings to pull it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetRegistry {
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    pub plain_http: bool,
}

/// A parsed fleet file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    pub name: String,
    #[serde(default)]
    pub registry: FleetRegistry,
    #[serde(rename = "gateway")]
    pub gateways: Vec<FleetGateway>,
    pub rollout: RolloutPlan,
    /// The folder relative paths are taken from.
    #[serde(skip)]
    pub base: PathBuf,
}

fn invalid(path: &Path, message: String) -> ReleaseError {
    ReleaseError::Invalid {
        what: "fleet file",
        message: format!("{}: {message}", path.display()),
    }
}

impl FleetFile {
    /// Reads and checks a fleet file.
    pub fn load(path: &Path) -> Result<FleetFile> {
        let text = std::fs::read_to_string(path).map_err(|e| ReleaseError::io(path, e))?;
        let mut f: FleetFile = toml::from_str(&text).map_err(|e| invalid(path, e.to_string()))?;
        f.base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        crate::release::check_release_name(&f.name).map_err(|e| invalid(path, e.to_string()))?;
        if f.gateways.is_empty() {
            return Err(invalid(path, "it lists no [[gateway]]".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in &f.gateways {
            if !seen.insert(g.name.as_str()) {
                return Err(invalid(
                    path,
                    format!("gateway '{}' is listed twice", g.name),
                ));
            }
            if g.token_file.is_some() == g.token_env.is_some() {
                return Err(invalid(
                    path,
                    format!(
                        "gateway '{}': give exactly one of token_file and token_env",
                        g.name
                    ),
                ));
            }
            if !(g.url.starts_with("http://") || g.url.starts_with("https://")) {
                return Err(invalid(
                    path,
                    format!("gateway '{}': url must be http(s)://", g.name),
                ));
            }
        }
        let r = &f.rollout;
        if !(r.canary_percent > 0.0 && r.canary_percent <= 100.0) {
            return Err(invalid(
                path,
                "rollout.canary_percent must be in (0, 100]".into(),
            ));
        }
        if r.requests.is_none() && r.hold_s.is_none() {
            return Err(invalid(
                path,
                "rollout needs requests = N (the gateway's analysis promotes) or hold_s = S (promote after S seconds without a rollback)".into(),
            ));
        }
        f.waves(path)?;
        Ok(f)
    }

    /// The gateways the rollout covers, in file order.
    pub fn selected(&self) -> Vec<&FleetGateway> {
        self.gateways
            .iter()
            .filter(|g| {
                self.rollout
                    .select
                    .iter()
                    .all(|(k, v)| g.labels.get(k) == Some(v))
            })
            .collect()
    }

    /// The waves as gateway names: each wave adds the gateways up to its cumulative size.
    pub fn waves(&self, path: &Path) -> Result<Vec<Vec<String>>> {
        let selected = self.selected();
        let n = selected.len();
        if n == 0 {
            return Err(invalid(path, "rollout.select matches no gateway".into()));
        }
        let mut out = Vec::new();
        let mut done = 0;
        for w in &self.rollout.waves {
            let upto = match w.trim().strip_suffix('%') {
                Some(p) => {
                    let p: f64 = p
                        .trim()
                        .parse()
                        .map_err(|_| invalid(path, format!("wave '{w}' is not N or P%")))?;
                    if !(p > 0.0 && p <= 100.0) {
                        return Err(invalid(path, format!("wave '{w}' is not in (0, 100]%")));
                    }
                    ((p / 100.0) * n as f64).ceil() as usize
                }
                None => w
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| invalid(path, format!("wave '{w}' is not N or P%")))?
                    .min(n),
            };
            if upto < done {
                return Err(invalid(
                    path,
                    format!("wave '{w}' is smaller than the one before"),
                ));
            }
            if upto > done {
                out.push(
                    selected[done..upto]
                        .iter()
                        .map(|g| g.name.clone())
                        .collect(),
                );
                done = upto;
            }
        }
        if done < n {
            return Err(invalid(
                path,
                format!("the last wave covers {done} of {n} gateways; end with \"100%\""),
            ));
        }
        Ok(out)
    }

    /// The registry settings for pinning the release: the file's, with `$ASSAY_REGISTRY_CA`
    /// as the CA when it names none.
    pub fn registry_options(&self) -> crate::oci::RegistryOptions {
        crate::oci::RegistryOptions {
            ca_cert: self
                .registry
                .ca_cert
                .as_ref()
                .map(|c| self.base.join(c))
                .or_else(|| std::env::var_os("ASSAY_REGISTRY_CA").map(PathBuf::from)),
            plain_http: self.registry.plain_http,
            credentials: None,
            host: None,
        }
    }

    pub fn gateway(&self, name: &str) -> Option<&FleetGateway> {
        self.gateways.iter().find(|g| g.name == name)
    }

    /// A client for `g`, with its token read now (a token file may be rotated between runs).
    pub fn client(&self, g: &FleetGateway) -> Result<crate::remote::GatewayClient> {
        let token = match (&g.token_file, &g.token_env) {
            (Some(f), _) => {
                let p = self.base.join(f);
                std::fs::read_to_string(&p)
                    .map_err(|e| ReleaseError::io(&p, e))?
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from)
                    .ok_or_else(|| ReleaseError::Invalid {
                        what: "token file",
                        message: format!("{} holds no token", p.display()),
                    })?
            }
            (None, Some(var)) => std::env::var(var).map_err(|_| ReleaseError::Invalid {
                what: "token",
                message: format!("gateway '{}': ${var} is not set", g.name),
            })?,
            (None, None) => unreachable!("checked at load"),
        };
        let ca = g.ca_cert.as_ref().map(|c| self.base.join(c));
        crate::remote::GatewayClient::new(&g.url, &token, ca.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(waves: &str, n: usize) -> std::result::Result<Vec<Vec<String>>, String> {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!("name = \"prod\"\n[rollout]\nwaves = {waves}\nhold_s = 1\n");
        for i in 0..n {
            text.push_str(&format!(
                "[[gateway]]\nname = \"g{i}\"\nurl = \"http://127.0.0.1:{}\"\ntoken_env = \"T\"\n",
                8000 + i
            ));
        }
        let p = dir.path().join("fleet.toml");
        std::fs::write(&p, text).unwrap();
        let f = FleetFile::load(&p).map_err(|e| e.to_string())?;
        f.waves(&p).map_err(|e| e.to_string())
    }

    #[test]
    fn waves_are_cumulative_and_end_with_everyone() {
        let w = fleet(r#"["1", "25%", "100%"]"#, 8).unwrap();
        let rest: Vec<String> = (2..8).map(|i| format!("g{i}")).collect();
        assert_eq!(w, [vec!["g0".to_string()], vec!["g1".to_string()], rest]);
        // With three gateways, 25% is still the first one: that wave adds nobody and goes.
        let w = fleet(r#"["1", "25%", "100%"]"#, 3).unwrap();
        assert_eq!(w, vec![vec!["g0"], vec!["g1", "g2"]]);
        // A wave that adds nobody is dropped.
        let w = fleet(r#"["1", "1", "100%"]"#, 2).unwrap();
        assert_eq!(w.len(), 2);
        assert!(
            fleet(r#"["1", "50%"]"#, 4)
                .unwrap_err()
                .contains("end with")
        );
        assert!(
            fleet(r#"["50%", "1", "100%"]"#, 4)
                .unwrap_err()
                .contains("smaller")
        );
        assert!(fleet(r#"["x"]"#, 4).unwrap_err().contains("not N or P%"));
    }
}
