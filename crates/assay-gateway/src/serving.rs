//! One inference request through the core, whichever protocol brought it: the inference
//! token and rate limit, routing (stable, canary, pinned or sticky), the run itself, the
//! shadow's copy, the version's metrics and the canary analysis's window. REST and gRPC
//! differ only in how they decode the request and encode the answer, which they pass in;
//! so both count in the same metrics and canary windows, and neither can forget a step.

use std::{future::Future, net::IpAddr, sync::Arc, time::Instant};

use axum::http::{HeaderMap, HeaderValue};
use tracing::Instrument;

use crate::{
    app::AppState, backend::Done, error::GatewayError, metrics::VersionMetrics,
    model::LoadedVersion, protocol::InferRequest, registry::Role, shadow::Mirror, trace_context,
};

/// The header that makes routing sticky (REST header and gRPC metadata alike).
pub const ROUTE_KEY: &str = "x-assay-route-key";

/// The protocol a request came in by, for the span.
#[derive(Debug, Clone, Copy)]
pub enum Protocol {
    Rest,
    Grpc,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Rest => "rest",
            Protocol::Grpc => "grpc",
        }
    }
}

/// What a request is: who asks, for which model (and maybe version), how.
pub struct Call<'a> {
    pub model: &'a str,
    pub version: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub peer: Option<IpAddr>,
    pub protocol: Protocol,
}

/// The outcome, with the version and route that served it when routing got that far.
pub struct Served<T> {
    pub result: Result<T, GatewayError>,
    pub routed: Option<(Arc<LoadedVersion>, Role)>,
    /// The W3C trace context to answer with (see [`trace_context::answer`]).
    pub traceparent: Option<HeaderValue>,
}

/// Checks, routes and runs `work` on the version the request is routed to, counting the
/// outcome where the canary analysis and the metrics see it. The span is the caller's
/// child when the request carries a W3C `traceparent`.
pub async fn serve<T, D, Fut, E>(app: &AppState, call: Call<'_>, decode: D, encode: E) -> Served<T>
where
    D: FnOnce(Arc<LoadedVersion>) -> Fut,
    Fut: Future<Output = Result<InferRequest, GatewayError>>,
    E: FnOnce(&LoadedVersion, &InferRequest, Done) -> Result<T, GatewayError>,
{
    let span = tracing::info_span!(
        "infer",
        model = %call.model,
        protocol = call.protocol.as_str(),
        version = tracing::field::Empty,
        route = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    trace_context::adopt(&span, call.headers);
    let headers = call.headers;
    let mut served = run(app, call, decode, encode)
        .instrument(span.clone())
        .await;
    served.traceparent = trace_context::answer(&span, headers);
    served
}

async fn run<T, D, Fut, E>(app: &AppState, call: Call<'_>, decode: D, encode: E) -> Served<T>
where
    D: FnOnce(Arc<LoadedVersion>) -> Fut,
    Fut: Future<Output = Result<InferRequest, GatewayError>>,
    E: FnOnce(&LoadedVersion, &InferRequest, Done) -> Result<T, GatewayError>,
{
    let started = Instant::now();
    if let Err(e) = app.auth.inference(call.headers, call.peer) {
        app.metrics.unrouted_failure(e.reason());
        return Served {
            result: Err(e),
            routed: None,
            traceparent: None,
        };
    }
    let key = call.headers.get(ROUTE_KEY).and_then(|v| v.to_str().ok());
    let (v, role) = match app.registry.route(call.model, call.version, key).await {
        Ok(r) => r,
        Err(e) => {
            app.metrics.unrouted_failure(e.reason());
            return Served {
                result: Err(e),
                routed: None,
                traceparent: None,
            };
        }
    };
    let mut in_flight = InFlight {
        metrics: &v.metrics,
        finished: false,
    };
    let span = tracing::Span::current();
    span.record("version", v.version.as_str());
    span.record("route", role.as_str());
    let result = async {
        let mut req = decode(v.clone()).await?;
        // A request the stable release serves may be mirrored to the shadow: its inputs
        // are kept for it, and handed over once the stable has answered.
        let shadow = (role == Role::Stable)
            .then(|| app.registry.mirror(call.model))
            .flatten()
            .filter(|s| s.has_room());
        let kept = shadow.as_ref().map(|_| req.inputs.clone());
        let done = v.infer(&mut req, app.config.request_timeout).await?;
        if let (Some(shadow), Some(inputs)) = (shadow, kept) {
            shadow.offer(Mirror {
                inputs,
                stable_outputs: done.outputs.clone(),
                stable_ms: started.elapsed().as_secs_f64() * 1e3,
            });
        }
        encode(&v, &req, done)
    }
    .await;
    in_flight.finished = true;
    drop(in_flight);
    let elapsed = started.elapsed();
    let ok = result.is_ok();
    match &result {
        Ok(_) => {
            v.metrics.success.inc();
            v.metrics.request_duration.observe(elapsed.as_secs_f64());
            v.metrics.answered_now();
            span.record("status", 200u16);
        }
        Err(e) => {
            v.metrics.failed(e.reason());
            span.record("status", e.status().as_u16());
        }
    }
    // Client mistakes say nothing about the version; server-side failures count against it.
    let counts = match &result {
        Ok(_) => true,
        Err(e) => e.status().is_server_error(),
    };
    if counts {
        app.registry.observe(
            call.model,
            role,
            &v.version,
            ok,
            elapsed.as_secs_f64() * 1e3,
        );
    }
    Served {
        result,
        routed: Some((v, role)),
        traceparent: None,
    }
}

/// Counts a request whose client went away before the answer: the server then drops the
/// handler's future, and this guard is the only code that runs.
struct InFlight<'a> {
    metrics: &'a VersionMetrics,
    finished: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.metrics.failed(crate::error::FailureReason::Canceled);
        }
    }
}
