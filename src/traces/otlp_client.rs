//! The OTLP exporter's HTTP client: our own hyper client (the upstream leg's: TLS roots,
//! `ca_file`, egress proxy), so the exporter brings no second HTTP stack. Answers are read
//! to at most 4 MiB.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use opentelemetry_http::{HttpClient, HttpError};

use crate::upstream::http::UpstreamHttp;

const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

pub struct OtlpHttp(pub UpstreamHttp);

impl std::fmt::Debug for OtlpHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtlpHttp")
    }
}

#[async_trait::async_trait]
impl HttpClient for OtlpHttp {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = hyper::Request::from_parts(parts, Full::new(body));
        let response = self
            .0
            .request(request)
            .await
            .map_err(|e| HttpError::from(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| HttpError::from(e.to_string()))?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body))
    }
}
