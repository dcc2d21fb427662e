//! The models a gateway serves: for each, the loaded versions and the routing between its
//! stable and canary versions, plus every change to them (activate, canary, promote,
//! rollback, delete).
//!
//! A change is made in one order, so a crash at any point is safe: load and warm what the
//! change needs (off the request path; requests keep flowing to the current versions), then
//! write the new state atomically, then swap the routing (`arc-swap`). Requests that already
//! picked a version hold it (`Arc`) and finish on it; the swap never makes one fail.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use arc_swap::ArcSwap;
use assay_engine::model::DimBindings;
use assay_release::views::{CanarySplit, ChangeOutcome, PushOutcome, ShadowSplit};
use sha2::{Digest, Sha256};

use crate::{
    audit::AuditLog,
    backend::{Backend, LoadSpec},
    canary::{self, Analysis, Arm, Monitor, Verdict},
    config::Config,
    error::GatewayError,
    metrics::Metrics,
    model::{LoadedVersion, WarmUp},
    shadow::Shadow,
    state::{Layout, ModelState, ReleaseRecord, State, StateError},
};

/// Which side of the split served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Stable,
    Canary,
    Pinned,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Stable => "stable",
            Role::Canary => "canary",
            Role::Pinned => "pinned",
        }
    }
}

/// What unversioned requests see.
#[derive(Default)]
pub struct Routing {
    pub stable: Option<Arc<LoadedVersion>>,
    pub canary: Option<(Arc<LoadedVersion>, f64)>,
}

/// One model's live side.
pub struct Slot {
    pub routing: ArcSwap<Routing>,
    loaded: Mutex<HashMap<String, Arc<LoadedVersion>>>,
    loading: tokio::sync::Mutex<()>,
    pub monitor: Monitor,
    pub last_analysis: Mutex<Option<Analysis>>,
    counter: AtomicU64,
    /// The running shadow, kept across routing changes so its record does.
    pub shadow: arc_swap::ArcSwapOption<Shadow>,
}

impl Slot {
    fn new(window: usize) -> Slot {
        Slot {
            routing: ArcSwap::from_pointee(Routing::default()),
            loaded: Mutex::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
            monitor: Monitor::new(window),
            last_analysis: Mutex::new(None),
            counter: AtomicU64::new(0),
            shadow: arc_swap::ArcSwapOption::empty(),
        }
    }

    pub(crate) fn loaded(&self, version: &str) -> Option<Arc<LoadedVersion>> {
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(version)
            .cloned()
    }
}

/// The models, their durable state and their routing, and every change to them.
/// A change that puts `candidate` in front of clients, checked against the stable release's
/// signature first (see [`crate::compat`]) unless `force`d.
struct Gate {
    candidate: String,
    force: bool,
}

impl Gate {
    /// The gate of a change that sends `percent` of traffic to `version` (a canary, a
    /// shadow), once the share is checked.
    fn share(version: &str, percent: f64, force: bool) -> Result<Gate, GatewayError> {
        if !(0.0..=100.0).contains(&percent) || percent.is_nan() {
            return Err(GatewayError::BadRequest(format!(
                "percent {percent} is outside 0..=100"
            )));
        }
        Ok(Gate {
            candidate: version.to_string(),
            force,
        })
    }
}

pub struct Registry {
    pub config: Arc<Config>,
    pub backend: Arc<dyn Backend>,
    pub layout: Layout,
    metrics: Arc<Metrics>,
    audit: Arc<AuditLog>,
    state: ArcSwap<State>,
    admin: tokio::sync::Mutex<()>,
    models: RwLock<HashMap<String, Arc<Slot>>>,
    /// Serializes moving releases into (and out of) `releases/` with recording them.
    pub(crate) placement: tokio::sync::Mutex<()>,
}

/// A unit interval position for a routing key: the same key always lands in the same place.
fn key_position(key: &str) -> f64 {
    let d = Sha256::digest(key.as_bytes());
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) as f64 / 2f64.powi(64)
}

/// The n-th point of the golden-ratio (Weyl) sequence: unkeyed requests spread evenly, so a
/// 20% canary gets 20% of any stretch of traffic, not 20% on average.
fn weyl(n: u64) -> f64 {
    (n as f64 * 0.618_033_988_749_894_9).fract()
}

impl Registry {
    /// Restores the state saved in `layout` and loads what it says serves. A version that
    /// cannot load is recorded as such and takes no traffic; the others serve.
    pub async fn open(
        config: Arc<Config>,
        backend: Arc<dyn Backend>,
        layout: Layout,
        metrics: Arc<Metrics>,
        audit: Arc<AuditLog>,
    ) -> Result<Arc<Registry>, StateError> {
        let state = layout.load()?;
        layout.remove_orphans(&state);
        layout.remove_stale_uploads(std::time::Duration::from_secs(7 * 24 * 3600));
        crate::pulls::sweep_blobs(&layout.blobs());
        let gw = Arc::new(Registry {
            state: ArcSwap::from_pointee(state.clone()),
            admin: tokio::sync::Mutex::new(()),
            models: RwLock::new(HashMap::new()),
            placement: tokio::sync::Mutex::new(()),
            metrics,
            audit,
            layout,
            backend,
            config,
        });
        for (name, ms) in &state.models {
            let slot = gw.slot(name);
            // A shadow survives restarts like a canary does.
            for v in ms
                .stable
                .iter()
                .chain(ms.canary.as_ref().map(|c| &c.version))
                .chain(ms.shadow.as_ref().map(|s| &s.version))
            {
                match gw.ensure_loaded(&slot, name, v).await {
                    Ok(_) => gw.note_load(name, v, None),
                    Err(e) => {
                        tracing::error!(model = %name, version = %v, error = %e, "could not restore a serving version");
                        gw.note_load(name, v, Some(e.to_string()));
                    }
                }
            }
            gw.apply_routing(name, ms);
        }
        Ok(gw)
    }

    /// The current state (a snapshot).
    pub fn state(&self) -> Arc<State> {
        self.state.load_full()
    }

    fn slot(&self, model: &str) -> Arc<Slot> {
        if let Some(s) = self
            .models
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(model)
        {
            return s.clone();
        }
        self.models
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(model.to_string())
            .or_insert_with(|| Arc::new(Slot::new(self.config.canary.window)))
            .clone()
    }

    pub fn existing_slot(&self, model: &str) -> Option<Arc<Slot>> {
        self.models
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(model)
            .cloned()
    }

    fn unknown_model(model: &str) -> GatewayError {
        GatewayError::NotFound(format!("unknown model '{model}'"))
    }

    /// Loads and warms `version` unless it is loaded already.
    async fn ensure_loaded(
        &self,
        slot: &Slot,
        model: &str,
        version: &str,
    ) -> Result<Arc<LoadedVersion>, GatewayError> {
        self.ensure_loaded_as(slot, model, version, None).await
    }

    /// [`Self::ensure_loaded`] with the version's record as a pending change has it (its
    /// warm-up values), instead of the saved one.
    async fn ensure_loaded_as(
        &self,
        slot: &Slot,
        model: &str,
        version: &str,
        pending: Option<ReleaseRecord>,
    ) -> Result<Arc<LoadedVersion>, GatewayError> {
        if let Some(v) = slot.loaded(version) {
            return Ok(v);
        }
        let _one_at_a_time = slot.loading.lock().await;
        if let Some(v) = slot.loaded(version) {
            return Ok(v);
        }
        let state = self.state();
        let record = match &pending {
            Some(r) => r,
            None => state
                .models
                .get(model)
                .and_then(|m| m.releases.get(version))
                .ok_or_else(|| {
                    GatewayError::NotFound(format!("model '{model}' has no version '{version}'"))
                })?,
        };
        let path = self
            .layout
            .release_files(model, version)
            .join(&record.model_file);
        let settings = self
            .config
            .model_settings(model)
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
        let warm_up = WarmUp {
            dims: self.warm_dims(model, record),
            fills: record.serving_fills().clone(),
        };
        let metrics = self.metrics.version(model, version);
        let backend = self.backend.clone();
        let (m, v) = (model.to_string(), version.to_string());
        let loaded = tokio::task::spawn_blocking(move || {
            LoadedVersion::load(
                &*backend,
                LoadSpec {
                    model_path: &path,
                    model: &m,
                    version: &v,
                    settings: &settings,
                    metrics,
                    warm_up: &warm_up,
                },
            )
        })
        .await
        .map_err(|e| GatewayError::internal("loading", e))?
        .map_err(|e| {
            GatewayError::Unprocessable(format!(
                "{model} {version} failed to load, so it receives no traffic: {e}"
            ))
        })?;
        tracing::info!(
            model,
            version,
            load_ms = format!("{:.1}", loaded.load_ms),
            batching = loaded.has_batch_dim,
            "loaded and warmed"
        );
        let loaded = Arc::new(loaded);
        slot.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(version.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// The warm-up dimension values of a version: the operator's (given at activation) over
    /// the gateway's config for the model over the release's signed serving shapes.
    fn warm_dims(&self, model: &str, record: &ReleaseRecord) -> DimBindings {
        let mut dims = record.serving_dims().clone();
        dims.extend(self.config.model_dims(model));
        dims.extend(record.warm_dims.iter().map(|(k, v)| (k.clone(), *v)));
        dims
    }

    /// Records why `version` failed to load (or that it loaded, with `None`) in the durable
    /// state, so the reason stays listed after restarts. Called under the admin lock.
    fn note_load(&self, model: &str, version: &str, error: Option<String>) {
        let mut state = (*self.state()).clone();
        let Some(r) = state
            .models
            .get_mut(model)
            .and_then(|m| m.releases.get_mut(version))
        else {
            return;
        };
        if r.load_error == error {
            return;
        }
        r.load_error = error;
        match self.layout.save(&state) {
            Ok(()) => self.state.store(Arc::new(state)),
            Err(e) => tracing::error!(model, version, error = %e, "could not save a load outcome"),
        }
    }

    /// Picks the version for a request.
    pub async fn route(
        &self,
        model: &str,
        version: Option<&str>,
        key: Option<&str>,
    ) -> Result<(Arc<LoadedVersion>, Role), GatewayError> {
        let slot = self
            .existing_slot(model)
            .ok_or_else(|| Self::unknown_model(model))?;
        if let Some(v) = version {
            return Ok((self.ensure_loaded(&slot, model, v).await?, Role::Pinned));
        }
        let routing = slot.routing.load();
        let stable = routing
            .stable
            .clone()
            .ok_or_else(|| GatewayError::Unavailable {
                message: format!("model '{model}' has no active release yet (activate one)"),
                retry_after_s: 5,
            })?;
        if let Some((canary, percent)) = &routing.canary {
            let u = match key {
                Some(k) => key_position(k),
                None => weyl(slot.counter.fetch_add(1, Ordering::Relaxed)),
            };
            if u * 100.0 < *percent {
                return Ok((canary.clone(), Role::Canary));
            }
        }
        Ok((stable, Role::Stable))
    }

    /// Feeds the canary analysis with one request's outcome on `version`.
    pub fn observe(&self, model: &str, role: Role, version: &str, ok: bool, latency_ms: f64) {
        let arm = match role {
            Role::Stable => Arm::Stable,
            Role::Canary => Arm::Candidate,
            Role::Pinned => return,
        };
        if let Some(slot) = self.existing_slot(model) {
            slot.monitor.record(arm, version, ok, latency_ms);
        }
    }

    /// Builds the routing from the state; the versions must be loaded. Versions that no
    /// longer serve are let go (in-flight requests keep them alive until they finish).
    fn apply_routing(&self, model: &str, ms: &ModelState) {
        let slot = self.slot(model);
        let stable = ms.stable.as_deref().and_then(|v| slot.loaded(v));
        let canary = ms
            .canary
            .as_ref()
            .and_then(|c| slot.loaded(&c.version).map(|l| (l, c.percent)));
        self.metrics
            .set_canary_percent(model, canary.as_ref().map_or(0.0, |c| c.1));
        slot.monitor.route_to(
            ms.stable.as_deref(),
            ms.canary.as_ref().map(|c| c.version.as_str()),
        );
        slot.routing.store(Arc::new(Routing { stable, canary }));
        self.apply_shadow(model, &slot, ms);
        let keep: Vec<&str> = ms
            .stable
            .iter()
            .map(String::as_str)
            .chain(ms.canary.as_ref().map(|c| c.version.as_str()))
            .chain(ms.shadow.as_ref().map(|s| s.version.as_str()))
            .collect();
        let mut loaded = slot.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.retain(|v, _| keep.contains(&v.as_str()));
        // A version that only shadows gets only the CPU the served ones leave idle, so the
        // stable's latency does not pay for the comparison.
        for (v, version) in loaded.iter() {
            let serves = ms.stable.as_deref() == Some(v.as_str())
                || ms.canary.as_ref().is_some_and(|c| &c.version == v);
            version.set_background(!serves);
        }
    }

    /// Starts, changes or ends the model's shadow as `ms` says. A shadow of the same version
    /// against the same stable keeps its record; any other is a new comparison.
    fn apply_shadow(&self, model: &str, slot: &Slot, ms: &ModelState) {
        let (Some(split), Some(stable)) = (&ms.shadow, &ms.stable) else {
            slot.shadow.store(None);
            return;
        };
        if &split.version == stable {
            slot.shadow.store(None);
            return;
        }
        if let Some(cur) = slot.shadow.load_full()
            && cur.version.version == split.version
            && &cur.stable == stable
        {
            cur.set_percent(split.percent);
            return;
        }
        let Some(version) = slot.loaded(&split.version) else {
            slot.shadow.store(None);
            return;
        };
        let shadow = Shadow::start(
            version,
            stable.clone(),
            split.percent,
            &self.config.shadow,
            self.metrics.shadow(model, &split.version),
            self.config.request_timeout,
        );
        slot.shadow.store(Some(shadow));
    }

    /// The shadow to mirror a request the stable release served to, when it is picked.
    pub fn mirror(&self, model: &str) -> Option<Arc<Shadow>> {
        let slot = self.existing_slot(model)?;
        slot.shadow.load_full().filter(|s| s.pick())
    }

    /// Applies `change` to a copy of the model's state, loads and warms whatever that state
    /// routes to, saves it, then swaps the routing; all under the admin lock, so the routed
    /// versions are always loaded. `subject` is the version the audit log names on failure.
    async fn change(
        &self,
        model: &str,
        actor: &str,
        action: &str,
        subject: Option<&str>,
        gate: Option<Gate>,
        change: impl FnOnce(&mut ModelState) -> Result<(Option<String>, String), GatewayError>,
    ) -> Result<ChangeOutcome, GatewayError> {
        let result = self.change_inner(model, gate, change).await;
        match &result {
            Ok((version, detail)) => {
                self.audit
                    .record(actor, action, Some(model), version.as_deref(), Ok(detail));
                tracing::info!(
                    model,
                    action,
                    version = version.as_deref(),
                    actor,
                    "{detail}"
                );
            }
            Err(e) => {
                let detail = e.to_string();
                self.audit
                    .record(actor, action, Some(model), subject, Err(&detail));
            }
        }
        let (_, detail) = result?;
        let state = self.state();
        Ok(ChangeOutcome {
            model: model.to_string(),
            detail,
            state: state
                .models
                .get(model)
                .map(ModelState::routing)
                .unwrap_or_default(),
        })
    }

    async fn change_inner(
        &self,
        model: &str,
        gate: Option<Gate>,
        change: impl FnOnce(&mut ModelState) -> Result<(Option<String>, String), GatewayError>,
    ) -> Result<(Option<String>, String), GatewayError> {
        let _serial = self.admin.lock().await;
        let slot = self
            .existing_slot(model)
            .ok_or_else(|| Self::unknown_model(model))?;
        let mut state = (*self.state()).clone();
        let ms = state
            .models
            .get_mut(model)
            .ok_or_else(|| Self::unknown_model(model))?;
        let mut outcome = change(ms)?;
        let routed: Vec<String> = ms
            .stable
            .iter()
            .chain(ms.canary.as_ref().map(|c| &c.version))
            .chain(ms.shadow.as_ref().map(|s| &s.version))
            .cloned()
            .collect();
        // Load with the changed state's records (an activation may bring warm-up values).
        for v in &routed {
            let warm = state.models[model].releases.get(v).cloned();
            if let Err(e) = self.ensure_loaded_as(&slot, model, v, warm).await {
                self.note_load(model, v, Some(e.to_string()));
                return Err(e);
            }
            if let Some(r) = state
                .models
                .get_mut(model)
                .and_then(|m| m.releases.get_mut(v))
            {
                r.load_error = None;
            }
        }
        if let Some(gate) = gate.filter(|g| routed.contains(&g.candidate))
            && let Some(text) = self.compatibility(&slot, model, &gate)?
        {
            // Forced: the outcome, the model's event and (through `change`) the audit log
            // all say what was forced past.
            let note = format!(" (forced past compatibility breaks: {text})");
            outcome.1.push_str(&note);
            if let Some(e) = state
                .models
                .get_mut(model)
                .and_then(|m| m.events.last_mut())
            {
                e.detail.push_str(&note);
            }
        }
        let snapshot = state.models[model].clone();
        crate::failpoint::hit("activate-loaded");
        self.layout
            .save(&state)
            .map_err(|e| GatewayError::internal("saving the gateway state", e))?;
        self.state.store(Arc::new(state));
        self.apply_routing(model, &snapshot);
        Ok(outcome)
    }

    /// Checks the gate's candidate (loaded) against the stable release serving now. Breaks
    /// refuse the change with 409 naming each one, unless forced: then they are returned,
    /// for the record.
    fn compatibility(
        &self,
        slot: &Slot,
        model: &str,
        gate: &Gate,
    ) -> Result<Option<String>, GatewayError> {
        let before = self.state();
        let Some(ms) = before.models.get(model) else {
            return Ok(None);
        };
        let Some(stable) = ms
            .stable
            .as_deref()
            .filter(|s| *s != gate.candidate)
            .and_then(|s| slot.loaded(s))
        else {
            return Ok(None);
        };
        let Some(candidate) = slot.loaded(&gate.candidate) else {
            return Ok(None);
        };
        let breaks = crate::compat::check(stable.signature(), candidate.signature());
        if breaks.is_empty() {
            return Ok(None);
        }
        let text = crate::compat::describe(&breaks);
        if gate.force {
            return Ok(Some(text));
        }
        // Refused: a candidate loaded only for this change does not stay in memory.
        let routed_now = ms.stable.as_deref() == Some(gate.candidate.as_str())
            || ms
                .canary
                .as_ref()
                .is_some_and(|c| c.version == gate.candidate)
            || ms
                .shadow
                .as_ref()
                .is_some_and(|s| s.version == gate.candidate);
        if !routed_now {
            slot.loaded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&gate.candidate);
        }
        Err(GatewayError::Conflict(format!(
            "{model} {} does not fit the clients of the stable release {}: {text}. \
             Force it (`--force`, or \"force\": true) to serve it anyway; that is recorded in the audit log",
            gate.candidate, stable.version
        )))
    }

    fn has_release(ms: &ModelState, model: &str, version: &str) -> Result<(), GatewayError> {
        if ms.releases.contains_key(version) {
            Ok(())
        } else {
            Err(GatewayError::NotFound(format!(
                "model '{model}' has no version '{version}'"
            )))
        }
    }

    /// Makes `version` the stable release; `dims` (when given) are its warm-up values from
    /// now on, so a version that failed to load can be retried with other shapes.
    pub async fn activate(
        &self,
        model: &str,
        version: &str,
        dims: Option<DimBindings>,
        force: bool,
        actor: &str,
    ) -> Result<ChangeOutcome, GatewayError> {
        let v = version.to_string();
        let gate = Gate {
            candidate: version.to_string(),
            force,
        };
        self.change(model, actor, "activate", Some(version), Some(gate), |ms| {
            Self::has_release(ms, model, &v)?;
            if let Some(d) = dims
                && let Some(r) = ms.releases.get_mut(&v)
            {
                r.warm_dims = d;
            }
            if ms.stable.as_deref() == Some(v.as_str()) {
                return Ok((Some(v.clone()), format!("{v} is already stable")));
            }
            ms.make_stable(&v);
            if ms.canary.as_ref().is_some_and(|c| c.version == v) {
                ms.canary = None;
            }
            if ms.shadow.as_ref().is_some_and(|s| s.version == v) {
                ms.shadow = None;
            }
            let detail = format!("{v} is now stable");
            Ok(ms.changed("activate", v, actor, detail))
        })
        .await
    }

    /// Sends `percent` of unpinned traffic to `version` (0 ends the canary).
    pub async fn set_canary(
        &self,
        model: &str,
        version: &str,
        percent: f64,
        auto_promote_after: Option<u64>,
        force: bool,
        actor: &str,
    ) -> Result<ChangeOutcome, GatewayError> {
        let gate = Gate::share(version, percent, force)?;
        let v = version.to_string();
        self.change(model, actor, "canary", Some(version), Some(gate), |ms| {
                Self::has_release(ms, model, &v)?;
                if ms.stable.as_deref() == Some(v.as_str()) {
                    return Err(GatewayError::Conflict(format!(
                        "{v} is the stable release; a canary must be another version"
                    )));
                }
                if ms.stable.is_none() {
                    return Err(GatewayError::Conflict(format!(
                        "model '{model}' has no stable release to compare a canary with; activate one first"
                    )));
                }
                // Shadow, then canary: the version now answers clients, so it stops
                // being compared in the background.
                let from_shadow = percent > 0.0 && ms.shadow.take_if(|s| s.version == v).is_some();
                let detail = if percent == 0.0 {
                    ms.canary = None;
                    format!("canary {v} set to 0%: all traffic on the stable release")
                } else if from_shadow {
                    let same = ms.canary.as_ref().is_some_and(|c| c.version == v);
                    let since = if same { ms.canary.as_ref().map_or(0, |c| c.since) } else { crate::state::now() };
                    ms.canary = Some(CanarySplit {
                        version: v.clone(),
                        percent,
                        auto_promote_after,
                        since,
                    });
                    format!("shadow {v} moved on to a canary at {percent}%")
                } else {
                    let same = ms.canary.as_ref().is_some_and(|c| c.version == v);
                    let since = if same { ms.canary.as_ref().map_or(0, |c| c.since) } else { crate::state::now() };
                    ms.canary = Some(CanarySplit {
                        version: v.clone(),
                        percent,
                        auto_promote_after,
                        since,
                    });
                    format!(
                        "canary {v} at {percent}%{}",
                        auto_promote_after
                            .map(|n| format!(", promoted automatically after {n} requests if non-inferior"))
                            .unwrap_or_default()
                    )
                };
                Ok(ms.changed("canary", v.clone(), actor, detail))
            })
            .await
    }

    /// Mirrors `percent` of the stable's traffic to `version` and compares the answers (0
    /// ends the shadow). Checked for compatibility like a canary.
    pub async fn set_shadow(
        &self,
        model: &str,
        version: &str,
        percent: f64,
        force: bool,
        actor: &str,
    ) -> Result<ChangeOutcome, GatewayError> {
        let gate = Gate::share(version, percent, force)?;
        let v = version.to_string();
        self.change(model, actor, "shadow", Some(version), Some(gate), |ms| {
            Self::has_release(ms, model, &v)?;
            if ms.stable.is_none() {
                return Err(GatewayError::Conflict(format!(
                    "model '{model}' has no stable release to shadow; activate one first"
                )));
            }
            if ms.stable.as_deref() == Some(v.as_str()) {
                return Err(GatewayError::Conflict(format!(
                    "{v} is the stable release; a shadow must be another version"
                )));
            }
            if ms.canary.as_ref().is_some_and(|c| c.version == v) {
                return Err(GatewayError::Conflict(format!(
                    "{v} is the canary, whose answers clients already get; a shadow comes before a canary"
                )));
            }
            let detail = if percent == 0.0 {
                match ms.shadow.take_if(|s| s.version == v) {
                    Some(_) => format!("shadow {v} ended"),
                    None => {
                        return Err(GatewayError::Conflict(format!(
                            "{v} is not the shadow of '{model}' ({})",
                            ms.shadow
                                .as_ref()
                                .map_or("it has none".to_string(), |s| format!("that is {}", s.version))
                        )));
                    }
                }
            } else {
                let since = match &ms.shadow {
                    Some(s) if s.version == v => s.since,
                    _ => crate::state::now(),
                };
                ms.shadow = Some(ShadowSplit {
                    version: v.clone(),
                    percent,
                    since,
                });
                format!(
                    "shadow {v} at {percent}%: a copy of that share of the stable's traffic, answers compared, never sent to clients"
                )
            };
            Ok(ms.changed("shadow", v.clone(), actor, detail))
        })
        .await
    }

    /// Makes the canary the stable release.
    pub async fn promote(&self, model: &str, actor: &str) -> Result<ChangeOutcome, GatewayError> {
        self.change(model, actor, "promote", None, None, |ms| {
            let c = ms.canary.take().ok_or_else(|| {
                GatewayError::Conflict(format!("model '{model}' has no canary to promote"))
            })?;
            ms.make_stable(&c.version);
            let detail = format!("canary {} promoted to stable", c.version);
            Ok(ms.changed("promote", c.version, actor, detail))
        })
        .await
    }

    /// Ends a canary, or (with none) returns to the previous stable release.
    pub async fn rollback(&self, model: &str, actor: &str) -> Result<ChangeOutcome, GatewayError> {
        self.change(model, actor, "rollback", None, None, |ms| {
            if let Some(c) = ms.canary.take() {
                let detail = format!(
                    "canary {} rolled back: all traffic on {}",
                    c.version,
                    ms.stable.as_deref().unwrap_or("-")
                );
                return Ok(ms.changed("rollback", c.version, actor, detail));
            }
            let prev = ms.previous.pop().ok_or_else(|| {
                GatewayError::Conflict(format!(
                    "model '{model}' has no canary and no previous stable release to roll back to"
                ))
            })?;
            let from = ms.stable.replace(prev.clone());
            // The stable release is never its own shadow.
            ms.shadow.take_if(|s| s.version == prev);
            let detail = format!(
                "rolled back from {} to {prev}",
                from.as_deref().unwrap_or("-")
            );
            Ok(ms.changed("rollback", prev, actor, detail))
        })
        .await
    }

    /// Deletes a release that does not serve.
    pub async fn delete(
        &self,
        model: &str,
        version: &str,
        actor: &str,
    ) -> Result<ChangeOutcome, GatewayError> {
        let v = version.to_string();
        // No push of the same version may land between forgetting it and removing its files.
        let _placing = self.placement.lock().await;
        let out = self
            .change(model, actor, "delete", Some(version), None, |ms| {
                Self::has_release(ms, model, &v)?;
                if ms.stable.as_deref() == Some(v.as_str()) {
                    return Err(GatewayError::Conflict(format!(
                        "{v} is the stable release of '{model}'; activate another version first"
                    )));
                }
                if ms.canary.as_ref().is_some_and(|c| c.version == v) {
                    return Err(GatewayError::Conflict(format!(
                        "{v} is the canary of '{model}'; roll it back first"
                    )));
                }
                if ms.shadow.as_ref().is_some_and(|s| s.version == v) {
                    return Err(GatewayError::Conflict(format!(
                        "{v} is the shadow of '{model}'; end it first (shadow {v} 0)"
                    )));
                }
                ms.releases.remove(&v);
                ms.previous.retain(|p| p != &v);
                let detail = format!("release {v} deleted");
                Ok(ms.changed("delete", v.clone(), actor, detail))
            })
            .await?;
        let dir = self.layout.release(model, version);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(path = %dir.display(), error = %e, "could not remove a deleted release's folder");
        }
        crate::pulls::sweep_blobs(&self.layout.blobs());
        Ok(out)
    }

    /// Records a verified release that was moved into place; the first one of a model
    /// becomes stable when `activate` is set.
    pub(crate) async fn add_release(
        &self,
        model: &str,
        record: crate::state::ReleaseRecord,
        activate: bool,
        actor: &str,
    ) -> Result<PushOutcome, GatewayError> {
        let version = record.version.clone();
        {
            let _serial = self.admin.lock().await;
            let mut state = (*self.state()).clone();
            let ms = state.models.entry(model.to_string()).or_default();
            ms.record(
                "push",
                Some(&version),
                actor,
                format!("pushed {version}, signed by key {}", record.signer),
            );
            ms.releases.insert(version.clone(), record);
            self.layout
                .save(&state)
                .map_err(|e| GatewayError::internal("saving the gateway state", e))?;
            self.state.store(Arc::new(state));
            self.slot(model);
        }
        self.audit.record(
            actor,
            "push",
            Some(model),
            Some(&version),
            Ok("verified and stored"),
        );
        let first = self
            .state()
            .models
            .get(model)
            .is_some_and(|m| m.stable.is_none());
        let activation = if activate && first {
            Some(self.activate(model, &version, None, false, actor).await)
        } else {
            None
        };
        let activated = match activation {
            Some(Ok(_)) => true,
            Some(Err(e)) => {
                return Err(GatewayError::Unprocessable(format!(
                    "{model} {version} was verified and stored, but not activated: {e}"
                )));
            }
            None => false,
        };
        let state = self.state();
        let ms = state.models.get(model);
        Ok(PushOutcome {
            model: model.to_string(),
            release: ms.and_then(|m| {
                m.release_summaries()
                    .into_iter()
                    .find(|r| r.version == version)
            }),
            state: ms.map(ModelState::routing),
            version,
            already_present: false,
            activated: Some(activated),
        })
    }

    /// Ends every shadow whose disagreement rate (over at least `shadow.min_compared`
    /// compared requests) is above `shadow.max_disagreement`, when that is configured.
    async fn judge_shadows(&self) {
        let Some(limit) = self.config.shadow.max_disagreement else {
            return;
        };
        let state = self.state();
        for (model, ms) in &state.models {
            let Some(split) = &ms.shadow else { continue };
            let Some(shadow) = self.existing_slot(model).and_then(|s| s.shadow.load_full()) else {
                continue;
            };
            let (judged, rate) = shadow.disagreement();
            if judged < self.config.shadow.min_compared || rate <= limit {
                continue;
            }
            let reason = format!(
                "{:.1}% of {judged} compared requests disagreed with the stable release (limit {:.1}%){}",
                rate * 100.0,
                limit * 100.0,
                shadow
                    .report()
                    .last_problem
                    .map(|p| format!("; last: {p}"))
                    .unwrap_or_default()
            );
            self.metrics
                .canary_decision(model, &split.version, "shadow-rollback");
            tracing::warn!(model, version = %split.version, "shadow ended automatically: {reason}");
            let actor = "shadow-analysis";
            let r = self
                .change(
                    model,
                    actor,
                    "auto-rollback",
                    Some(&split.version),
                    None,
                    |ms| {
                        let Some(cur) = ms.shadow.take_if(|cur| cur.version == split.version)
                        else {
                            return Ok((None, "the shadow changed meanwhile".into()));
                        };
                        let detail =
                            format!("shadow {} ended automatically: {reason}", cur.version);
                        Ok(ms.changed("auto-rollback", cur.version, actor, detail))
                    },
                )
                .await;
            if let Err(e) = r {
                tracing::error!(model, error = %e, "ending the shadow failed");
            }
        }
    }

    /// Runs the canary analysis of every model with a canary, acting on its verdict.
    pub async fn analyze_canaries(&self) {
        self.judge_shadows().await;
        let state = self.state();
        for (model, ms) in &state.models {
            let Some(c) = &ms.canary else { continue };
            let Some(slot) = self.existing_slot(model) else {
                continue;
            };
            let rules = canary::Rules {
                min_requests: self.config.canary.min_requests,
                alpha: self.config.canary.alpha,
                margin: self.config.canary.non_inferiority_margin,
                promote_after: c.auto_promote_after,
            };
            let analysis = slot.monitor.analyze(&rules);
            let verdict = analysis.verdict.clone();
            *slot.last_analysis.lock().unwrap_or_else(|p| p.into_inner()) = Some(analysis);
            let actor = "canary-analysis";
            match verdict {
                Verdict::Rollback { reason } => {
                    self.metrics.canary_decision(model, &c.version, "rollback");
                    tracing::warn!(model, version = %c.version, "automatic rollback: {reason}");
                    let r = self
                        .change(
                            model,
                            actor,
                            "auto-rollback",
                            Some(&c.version),
                            None,
                            |ms| {
                                let Some(cur) = ms.canary.take_if(|cur| cur.version == c.version)
                                else {
                                    return Ok((None, "the canary changed meanwhile".into()));
                                };
                                let detail = format!(
                                    "canary {} rolled back automatically: {reason}",
                                    cur.version
                                );
                                Ok(ms.changed("auto-rollback", cur.version, actor, detail))
                            },
                        )
                        .await;
                    if let Err(e) = r {
                        tracing::error!(model, error = %e, "automatic rollback failed");
                    }
                }
                Verdict::Promote { reason } => {
                    self.metrics.canary_decision(model, &c.version, "promote");
                    let r = self
                        .change(model, actor, "auto-promote", Some(&c.version), None, |ms| {
                            let Some(cur) = ms.canary.take_if(|cur| cur.version == c.version)
                            else {
                                return Ok((None, "the canary changed meanwhile".into()));
                            };
                            ms.make_stable(&cur.version);
                            let detail =
                                format!("canary {} promoted automatically: {reason}", cur.version);
                            Ok(ms.changed("auto-promote", cur.version, actor, detail))
                        })
                        .await;
                    if let Err(e) = r {
                        tracing::error!(model, error = %e, "automatic promotion failed");
                    }
                }
                Verdict::Continue { .. } => {}
            }
        }
    }

    /// Whether every model with a stable release can serve it.
    pub fn ready(&self) -> bool {
        let state = self.state();
        state.models.iter().all(|(name, ms)| {
            ms.stable.is_none()
                || self
                    .existing_slot(name)
                    .is_some_and(|s| s.routing.load().stable.is_some())
        })
    }

    /// The loaded version a metadata route describes: pinned, or the stable one.
    /// Every loaded version of `model` (what the statistics extension reports; it never
    /// loads one), in version order.
    pub fn loaded_versions(&self, model: &str) -> Result<Vec<Arc<LoadedVersion>>, GatewayError> {
        let slot = self
            .existing_slot(model)
            .ok_or_else(|| Self::unknown_model(model))?;
        let mut all: Vec<_> = slot
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(all)
    }

    pub async fn describe(
        &self,
        model: &str,
        version: Option<&str>,
    ) -> Result<Arc<LoadedVersion>, GatewayError> {
        let slot = self
            .existing_slot(model)
            .ok_or_else(|| Self::unknown_model(model))?;
        match version {
            Some(v) => self.ensure_loaded(&slot, model, v).await,
            None => slot
                .routing
                .load()
                .stable
                .clone()
                .ok_or_else(|| GatewayError::Unavailable {
                    message: format!("model '{model}' has no active release yet"),
                    retry_after_s: 5,
                }),
        }
    }

    /// Whether `version` (or the model) is loaded and serving.
    pub fn is_ready(&self, model: &str, version: Option<&str>) -> bool {
        self.existing_slot(model).is_some_and(|s| match version {
            Some(v) => s.loaded(v).is_some(),
            None => s.routing.load().stable.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weyl_split_is_exact_over_any_stretch() {
        for start in [0u64, 17, 1000] {
            let hits = (start..start + 2000)
                .filter(|&n| weyl(n) * 100.0 < 20.0)
                .count();
            assert!((395..=405).contains(&hits), "{hits}");
        }
    }

    #[test]
    fn keys_are_sticky_and_spread() {
        assert_eq!(key_position("user-1"), key_position("user-1"));
        let canary = (0..10_000)
            .filter(|i| key_position(&format!("user-{i}")) < 0.2)
            .count();
        assert!((1800..2200).contains(&canary), "{canary}");
    }
}
