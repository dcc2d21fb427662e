//! W3C trace context: a request's `traceparent` (REST header or gRPC metadata) becomes the
//! parent of the gateway's span for it, so the span exported over OTLP sits inside the
//! caller's trace; the answer carries a `traceparent` naming the gateway's span (or, with
//! no exporter running, the caller's own, echoed).

use axum::http::{HeaderMap, HeaderValue};
use tracing::Span;

/// The header (and gRPC metadata key) of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";

/// Makes the caller's trace the parent of `span`. Call it before the span is first
/// entered: once started, a span's parent is fixed.
pub fn adopt(span: &Span, headers: &HeaderMap) {
    #[cfg(feature = "otlp")]
    {
        use opentelemetry::{propagation::TextMapPropagator, trace::TraceContextExt};
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new()
            .extract(&Headers(headers));
        if cx.span().span_context().is_valid() {
            // Without an exporter there is no OpenTelemetry layer, and nothing to parent.
            let _ = span.set_parent(cx);
        }
    }
    #[cfg(not(feature = "otlp"))]
    let _ = (span, headers);
}

/// The `traceparent` to answer with: the gateway's span when spans are exported, else the
/// caller's when it sent a well-formed one.
pub fn answer(span: &Span, headers: &HeaderMap) -> Option<HeaderValue> {
    #[cfg(feature = "otlp")]
    {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            let text = format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            );
            return HeaderValue::from_str(&text).ok();
        }
    }
    #[cfg(not(feature = "otlp"))]
    let _ = span;
    headers
        .get(TRACEPARENT)
        .filter(|v| v.to_str().is_ok_and(well_formed))
        .cloned()
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero (the spec's version 00 form).
fn well_formed(v: &str) -> bool {
    let parts: Vec<&str> = v.trim().split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
        && parts[1].bytes().any(|b| b != b'0')
        && parts[2].bytes().any(|b| b != b'0')
}

#[cfg(feature = "otlp")]
struct Headers<'a>(&'a HeaderMap);

#[cfg(feature = "otlp")]
impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_traceparents_are_echoed() {
        assert!(well_formed(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
