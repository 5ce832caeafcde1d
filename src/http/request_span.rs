//! The root span of every HTTP request, built for `tracing-actix-web`'s
//! `TracingLogger` in place of its default, which records the whole request
//! target, query string included. Query strings carry credentials here: the
//! web editor opens `/api/v1/ws?token=<login token>` (browsers cannot set
//! headers on a WebSocket) and Judge0 clients may send their key as a query
//! parameter. Every log line inside a request repeats its span's fields, and
//! spans are exported over OTLP, so this span records the path only
//! (`http.target`), never the query. Otherwise it has the default span's
//! fields: method, route, version, scheme, host, client address, user agent,
//! status, request id, errors, and the W3C trace context from a
//! `traceparent` header, with the trace id in `trace_id`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::http::Version;
use actix_web::{Error, HttpMessage};
use opentelemetry::propagation::Extractor;
use tracing::field::Empty;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Builds the request span from the path, never the query string.
pub struct PathOnlySpan;

/// Reads the W3C trace context out of the request headers.
struct HeaderCarrier<'a>(&'a HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The HTTP version as the default span writes it (`1.1`, `2.0`).
fn flavor(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2.0",
        Version::HTTP_3 => "3.0",
        _ => "1.1",
    }
}

impl RootSpanBuilder for PathOnlySpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let method = request.method().as_str();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "default".to_string());
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        // TracingLogger stores the id before calling the builder.
        let request_id = request.extensions().get::<RequestId>().copied();
        let connection = request.connection_info().clone();
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = %flavor(request.version()),
            http.scheme = %connection.scheme(),
            http.host = %connection.host(),
            http.client_ip = %connection.realip_remote_addr().unwrap_or(""),
            http.user_agent = %user_agent,
            http.target = %request.path(),
            http.status_code = Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = Empty,
            trace_id = Empty,
            request_id = %request_id.map(|id| id.to_string()).unwrap_or_default(),
            exception.message = Empty,
            exception.details = Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderCarrier(request.headers()))
        });
        // Fails only when the span is disabled; then there is nothing to
        // trace. Without a remote parent the request starts a new trace.
        let _ = span.set_parent(parent);
        crate::telemetry::record_trace_id(&span);
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// Collects what the fmt layer writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            // unwrap: the lock is only poisoned if a writer panicked.
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A log line inside the request span (text format, the default) shows
    /// the path and the method but nothing of the query string: no token,
    /// no parameter name.
    #[test]
    fn the_span_records_the_path_without_the_query() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let request = actix_web::test::TestRequest::get()
                .uri("/api/v1/ws?token=SECRET123&X-Auth-Token=KEY456")
                .to_srv_request();
            let span = PathOnlySpan::on_request_start(&request);
            span.in_scope(|| tracing::info!("inside the request"));
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("inside the request"), "{log}");
        assert!(log.contains("http.target=/api/v1/ws"), "{log}");
        assert!(log.contains("http.method=GET"), "{log}");
        assert!(log.contains("http.flavor=1.1"), "{log}");
        for secret in ["SECRET123", "KEY456", "token="] {
            assert!(!log.contains(secret), "{secret:?} in {log}");
        }
    }
}
