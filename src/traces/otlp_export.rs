//! The OTLP/HTTP exporter: a batch of spans written as protobuf (`otlp_wire`) and POSTed
//! to `telemetry.otlp_endpoint` through our own hyper client (the upstream leg's: TLS
//! roots, `ca_file`, egress proxy) with `telemetry.headers`. A batch the collector refuses
//! or cannot take is dropped and counted; there is no retry (the next batch is already
//! waiting).

use super::otlp_wire::{self, Preamble};
use crate::upstream::http::UpstreamHttp;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

/// Most of a collector's answer read (a partial-success message is small).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where exports go, and the headers they carry (marked sensitive: never printed).
#[derive(Clone)]
pub struct Target {
    endpoint: http::Uri,
    headers: http::HeaderMap,
}

impl Target {
    pub fn parse(
        endpoint: &str,
        headers: &std::collections::HashMap<String, String>,
    ) -> Result<Target, String> {
        let endpoint: http::Uri = endpoint
            .parse()
            .map_err(|e| format!("telemetry.otlp_endpoint: {e}"))?;
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("telemetry.headers: {name:?} is not a header name"))?;
            let mut value = http::HeaderValue::from_str(value)
                .map_err(|_| format!("telemetry.headers: the value of {name} is not valid"))?;
            value.set_sensitive(true);
            map.insert(name, value);
        }
        Ok(Target {
            endpoint,
            headers: map,
        })
    }
}

pub struct OtlpExporter {
    http: UpstreamHttp,
    endpoint: http::Uri,
    headers: http::HeaderMap,
    preamble: Preamble,
    /// The request being written (its capacity kept from batch to batch).
    buf: Vec<u8>,
}

impl OtlpExporter {
    pub fn new(http: UpstreamHttp, target: Target, preamble: Preamble) -> OtlpExporter {
        OtlpExporter {
            http,
            endpoint: target.endpoint,
            headers: target.headers,
            preamble,
            buf: Vec::new(),
        }
    }

    /// Sends calls' written `spans` as one export request; `Err` says why it did not land.
    pub async fn export(&mut self, spans: &[Vec<u8>]) -> Result<(), String> {
        otlp_wire::request(&mut self.buf, &self.preamble, spans);
        let mut request = hyper::Request::post(self.endpoint.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::copy_from_slice(&self.buf)))
            .map_err(|e| e.to_string())?;
        for (name, value) in &self.headers {
            request.headers_mut().insert(name, value.clone());
        }
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        // Read the answer so the connection goes back to the pool.
        let _ = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the collector answered {status}"))
        }
    }
}
