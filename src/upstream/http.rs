//! The upstream HTTP sender: hyper's pooled HTTP/1.1 client, one per worker thread.
//!
//! hyper rather than awc because awc answers a close-delimited response (no
//! `content-length`, not chunked; RFC 9112 §6.3) with an empty body, and has no egress
//! proxy. Connections go through [`ProxyConnector`]: direct, through an HTTP proxy's
//! `CONNECT` tunnel (https upstreams), or to the proxy in absolute form (http upstreams);
//! TLS is rustls with the web roots plus `upstream.ca_file` and, if asked, the system's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::settings::UpstreamSettings;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What every worker's client shares: TLS roots and the proxy rules.
#[derive(Clone)]
pub struct HttpConfig {
    tls: Arc<rustls::ClientConfig>,
    proxies: Arc<Matcher>,
    connect_timeout: Duration,
}

impl HttpConfig {
    /// Reads the trust roots and proxy settings once, at start.
    pub fn load(settings: &UpstreamSettings) -> Result<HttpConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if settings.native_roots {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            log::info!("trusting {added} certificates from the system store");
        }
        if let Some(path) = &settings.ca_file {
            use rustls_pki_types::pem::PemObject;
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("upstream.ca_file {}: {e}", path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("upstream.ca_file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "upstream.ca_file {} holds no certificate",
                    path.display()
                ));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("upstream.ca_file {}: {e}", path.display()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(HttpConfig {
            tls: Arc::new(tls),
            proxies: Arc::new(proxy_matcher(settings)?),
            connect_timeout: Duration::from_millis(settings.connect_timeout_ms),
        })
    }
}

/// `upstream.proxy` (with `upstream.no_proxy`) when set, else the standard variables
/// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`.
fn proxy_matcher(settings: &UpstreamSettings) -> Result<Matcher, String> {
    let Some(proxy) = settings.proxy.as_deref().map(str::trim) else {
        return Ok(Matcher::from_env());
    };
    if proxy.is_empty() || proxy == "none" {
        return Ok(Matcher::builder().build());
    }
    let uri: http::Uri = proxy
        .parse()
        .map_err(|e| format!("upstream.proxy is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err("upstream.proxy must be an http://host:port URL".into());
    }
    let no_proxy = settings
        .no_proxy
        .clone()
        .or_else(|| std::env::var("NO_PROXY").ok())
        .or_else(|| std::env::var("no_proxy").ok())
        .unwrap_or_default();
    Ok(Matcher::builder().all(proxy).no(no_proxy).build())
}

/// A pooled client for one worker thread.
#[derive(Clone)]
pub struct UpstreamHttp {
    client: Client<HttpsConnector<ProxyConnector>, Full<Bytes>>,
    proxies: Arc<Matcher>,
}

pub type Response = hyper::Response<hyper::body::Incoming>;

impl UpstreamHttp {
    pub fn new(config: &HttpConfig) -> UpstreamHttp {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*config.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(ProxyConnector {
                http,
                proxies: config.proxies.clone(),
            });
        let client = Client::builder(LocalExecutor)
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        UpstreamHttp {
            client,
            proxies: config.proxies.clone(),
        }
    }

    /// Sends a POST with a JSON body; resolves when the response head has arrived.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(http::HeaderName, String)],
        body: Bytes,
    ) -> Result<Response, SendError> {
        self.send(http::Method::POST, url, headers, body).await
    }

    /// Sends a request with a JSON body (the terminal admin's calls too).
    pub async fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(http::HeaderName, String)],
        body: Bytes,
    ) -> Result<Response, SendError> {
        let uri: http::Uri = url.parse().map_err(|e| SendError::Url(format!("{e}")))?;
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            builder = builder.header(name, value.as_str());
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| SendError::Url(format!("{e}")))?;
        self.request(request).await
    }

    /// Sends a request as it is made (the trace exporter's too).
    pub async fn request(
        &self,
        mut request: hyper::Request<Full<Bytes>>,
    ) -> Result<Response, SendError> {
        // An http upstream reached through a forwarding proxy carries the proxy's credentials.
        let uri = request.uri();
        if uri.scheme() == Some(&http::uri::Scheme::HTTP) {
            if let Some(auth) = self
                .proxies
                .intercept(uri)
                .and_then(|i| i.basic_auth().cloned())
            {
                request
                    .headers_mut()
                    .insert(http::header::PROXY_AUTHORIZATION, auth);
            }
        }
        self.client.request(request).await.map_err(|e| {
            if e.is_connect() {
                SendError::Connect(error_chain(&e))
            } else {
                SendError::Other(error_chain(&e))
            }
        })
    }
}

/// Runs hyper's connection tasks on the worker's own task queue (actix's `LocalSet`), next
/// to the calls that use them. Each worker has its own client, so a connection never leaves
/// its thread; and a relayed stream that yields lets the connection decode the next frame
/// in the same queue at once (on the runtime's queue it would wait for the `LocalSet` to
/// give up its turn: ~20 µs per event in a burst).
#[derive(Clone, Copy)]
struct LocalExecutor;

impl<F> hyper::rt::Executor<F> for LocalExecutor
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        actix_web::rt::spawn(fut);
    }
}

/// Why a request got no response head.
#[derive(Debug)]
pub enum SendError {
    Url(String),
    Connect(String),
    Other(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Url(e) => write!(f, "bad upstream URL: {e}"),
            SendError::Connect(e) => write!(f, "cannot connect: {e}"),
            SendError::Other(e) => write!(f, "request failed: {e}"),
        }
    }
}

/// An error with its causes, `a: b: c` (hyper's own text is only the outermost layer).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Connects to an upstream directly or through the proxy the rules pick for it.
#[derive(Clone)]
pub struct ProxyConnector {
    http: HttpConnector,
    proxies: Arc<Matcher>,
}

impl Service<http::Uri> for ProxyConnector {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxyStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let mut http = self.http.clone();
        let intercept = self.proxies.intercept(&dst);
        Box::pin(async move {
            let Some(proxy) = intercept else {
                let io = http.call(dst).await?;
                return Ok(ProxyStream { io, proxied: false });
            };
            if dst.scheme() == Some(&http::uri::Scheme::HTTPS) {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), http);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                let io = tunnel
                    .call(dst)
                    .await
                    .map_err(|e| format!("proxy {}: {}", proxy.uri(), error_chain(&e)))?;
                Ok(ProxyStream { io, proxied: false })
            } else {
                let io = http.call(proxy.uri().clone()).await?;
                Ok(ProxyStream { io, proxied: true })
            }
        })
    }
}

/// A TCP connection to an upstream or to a proxy; `proxied` makes hyper write requests in
/// absolute form (a forwarding proxy).
pub struct ProxyStream {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for ProxyStream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl Read for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
