//! Logs and traces of one process, and the trace context a job carries from
//! the API to a worker. Owns the global `tracing` subscriber (text or JSON
//! lines on stderr, per `log.*`), the OpenTelemetry tracer provider behind
//! `tracing-opentelemetry` (spans always get W3C trace ids; they are exported
//! over OTLP/HTTP only when `telemetry.otlp_endpoint` is set) and the W3C
//! `traceparent` text that travels in a job's stream entry next to `job`, so
//! one trace shows the HTTP request, the enqueue, the wait in the queue, the
//! worker's run and the container.
//!
//! Every span that starts a piece of a job's life records its trace id in a
//! `trace_id` field (the HTTP root span of `tracing-actix-web` does the same),
//! so JSON log lines can be joined across processes without a collector.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::SystemTime;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Field of a stream entry holding the W3C trace context of the enqueue.
pub const TRACEPARENT_FIELD: &str = "traceparent";

/// Name of the tracer (instrumentation scope) of rce's own spans.
const TRACER: &str = "rce";

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter, e.g. `info` or `rce=debug,actix_web=info`
    /// (`RUST_LOG` wins when set).
    pub level: String,
    /// `text` or `json` (one object per line, with the enclosing spans and
    /// their `trace_id`).
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// Trace export.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Base URL of an OpenTelemetry collector's OTLP/HTTP receiver, e.g.
    /// `http://otel-collector:4318` (`/v1/traces` is appended). Empty: no
    /// export (trace ids still travel with jobs and appear in the logs).
    /// Plain http only: this build has no TLS client for the exporter.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            otlp_endpoint: String::new(),
            service_name: "rce".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log.format must be \"text\" or \"json\", not {0:?}")]
    Format(String),
    #[error("telemetry.otlp_endpoint: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("installing the log subscriber: {0}")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
}

/// The installed tracer provider; [`Telemetry::shutdown`] flushes spans
/// still buffered for export.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports what is buffered and stops the exporter (call once, after
    /// the runtime has stopped: the exporter runs on its own thread).
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("rce: flushing traces: {error}");
        }
    }
}

/// Installs the global subscriber (logs to stderr) and tracer provider.
pub fn init(log: &LogSettings, telemetry: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    let mut provider = SdkTracerProvider::builder().with_resource(
        opentelemetry_sdk::Resource::builder()
            .with_service_name(telemetry.service_name.clone())
            .build(),
    );
    if !telemetry.otlp_endpoint.is_empty() {
        let base = telemetry.otlp_endpoint.trim_end_matches('/');
        let endpoint = if base.ends_with("/v1/traces") {
            base.to_string()
        } else {
            format!("{base}/v1/traces")
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .build()?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());

    let log_filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    // Spans exist for tracing even when the log filter is quieter, so a
    // job's trace context travels whatever `log.level` says.
    let span_filter = EnvFilter::new("info");
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(TRACER))
        .with_filter(span_filter);
    let fmt = match log.format.as_str() {
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .boxed(),
        "text" => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        other => return Err(TelemetryError::Format(other.to_string())),
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(log_filter))
        .with(otel)
        .try_init()?;
    Ok(Telemetry { provider })
}

/// The W3C `traceparent` of `span`, if it belongs to a trace.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove(TRACEPARENT_FIELD)
}

/// The trace context a `traceparent` names (empty when it is malformed).
fn extract(traceparent: &str) -> opentelemetry::Context {
    let carrier = HashMap::from([(TRACEPARENT_FIELD.to_string(), traceparent.to_string())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// Records the span's trace id in its `trace_id` field (which the span must
/// declare, e.g. `trace_id = tracing::field::Empty`).
pub fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
    }
}

/// The span a worker runs one job in: a child of the API's enqueue span
/// when the entry carried a `traceparent`, else the root of a new trace. The
/// time the entry spent in the queue (from `enqueued_at`, the stream entry
/// id's timestamp) becomes a `queue wait` span in the same trace.
pub fn job_span(
    job_id: &str,
    traceparent: Option<&str>,
    enqueued_at: Option<SystemTime>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "job",
        job_id = %job_id,
        trace_id = tracing::field::Empty,
        otel.kind = "consumer",
    );
    if let Some(parent) = traceparent.map(extract) {
        if parent.span().span_context().is_valid() {
            if let Some(enqueued_at) = enqueued_at {
                let tracer = opentelemetry::global::tracer(TRACER);
                let mut wait = tracer
                    .span_builder("queue wait")
                    .with_start_time(enqueued_at)
                    .start_with_context(&tracer, &parent);
                opentelemetry::trace::Span::end(&mut wait);
            }
            // Fails only when the span is disabled; then there is nothing
            // to trace anyway.
            let _ = span.set_parent(parent);
        }
    }
    record_trace_id(&span);
    span
}

/// The time a stream entry id (`<ms>-<seq>`) was assigned by Redis.
pub fn entry_time(entry_id: &str) -> Option<SystemTime> {
    let millis: u64 = entry_id.split_once('-')?.0.parse().ok()?;
    SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A traceparent written for a span names the same trace when read back,
    /// and garbage yields no parent rather than an error.
    #[test]
    fn traceparent_round_trips() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let parent = extract(&format!("00-{id}-00f067aa0ba902b7-01"));
        assert_eq!(format!("{}", parent.span().span_context().trace_id()), id);
        assert!(!extract("nonsense").span().span_context().is_valid());
    }

    /// Entry ids carry Redis's clock in milliseconds.
    #[test]
    fn entry_ids_give_their_time() {
        let time = entry_time("1700000000123-7").unwrap();
        let millis = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert_eq!(millis, 1_700_000_000_123);
        assert!(entry_time("bogus").is_none());
    }
}
