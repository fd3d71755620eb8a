//! How upstream answers arrive on the wire: close-delimited framing (RFC 9112 §6.3),
//! endless event-stream lines, HTTPS under a company CA, and egress through a CONNECT proxy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use entity::request_log;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::*;

async fn log_rows(backend: &Backend, n: usize) -> Vec<request_log::Model> {
    let db = backend.connect().await;
    eventually(Duration::from_secs(5), || async {
        let rows = request_log::Entity::find()
            .order_by_asc(request_log::Column::Id)
            .all(&db)
            .await
            .unwrap_or_default();
        (rows.len() >= n).then_some(rows)
    })
    .await
    .unwrap_or_else(|| panic!("{n} log rows expected"))
}

#[actix_web::test]
async fn close_delimited_answers_are_relayed_whole() {
    for framing in ["close", "http10"] {
        let backend = Backend::sqlite();
        let mock = Mock::start_with(&["--framing", framing]);
        let gw = Gateway::start(&backend, &[]);
        gw.add_provider(
            "closer",
            &mock,
            json!(["gpt-4o-mini", "text-embedding-3-small"]),
            &["sk-close-key-0001"],
        )
        .await;

        let (status, body) = gw
            .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o-mini"))
            .await;
        assert_eq!(status, 200, "{framing}: {body}");
        assert_eq!(
            body["choices"][0]["message"]["content"], "tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 ",
            "{framing}: {body}"
        );
        assert_eq!(body["usage"]["completion_tokens"], 8);

        let mut streamed = chat("gpt-4o-mini");
        streamed["stream"] = json!(true);
        let (status, text) = gw.chat_text(&gw.admin, &streamed).await;
        assert_eq!(status, 200);
        let events = sse_data(&text);
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
        assert_eq!(
            streamed_content(&text),
            "tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 "
        );

        let (status, body) = gw
            .post(
                "/v1/embeddings",
                &gw.admin,
                &json!({"model": "text-embedding-3-small", "input": "hello"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"][0]["embedding"].as_array().map(Vec::len),
            Some(8)
        );

        // Billed on the upstream's own usage, not as an empty answer.
        let rows = log_rows(&backend, 3).await;
        for row in &rows[..2] {
            assert_eq!(row.status_code, 200);
            assert_eq!((row.completion_tokens, row.usage_estimated), (8, false));
        }
    }
}

#[actix_web::test]
async fn an_endless_event_stream_line_ends_the_stream_with_an_error() {
    let backend = Backend::sqlite();
    let (mock, gw) = gateway_with_mock(
        &backend,
        &[("GATEWAY__UPSTREAM__MAX_SSE_LINE_BYTES", "65536")],
        json!(["gpt-4o-mini"]),
        &["sk-endless-key-001"],
    )
    .await;
    // 64 MiB without a newline after the first event.
    mock.fault(json!({"unterminated_line_bytes": 64 * 1024 * 1024}))
        .await;
    let mut body = chat("gpt-4o-mini");
    body["stream"] = json!(true);
    let (status, text) = gw.chat_text(&gw.admin, &body).await;
    assert_eq!(status, 200);
    assert!(text.len() < 1024 * 1024, "the line was cut, not relayed");
    let last = sse_data(&text).pop().unwrap_or_default();
    let event: Value = serde_json::from_str(&last).unwrap_or_default();
    assert_eq!(event["error"]["type"], "upstream_error", "{last}");
    assert!(
        event["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("longer than 65536 bytes"),
        "{last}"
    );
    let logged = eventually(Duration::from_secs(2), || async {
        gw.logs()
            .contains("ending a stream from upstream")
            .then_some(())
    })
    .await;
    assert!(logged.is_some(), "the cut is logged");
    let rows = log_rows(&backend, 1).await;
    assert_eq!(rows[0].status_code, 502);
    assert_eq!(rows[0].error_type.as_deref(), Some("upstream_stream_error"));
}

/// A throwaway CA and a certificate for `localhost` signed by it.
struct Pki {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn company_pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Gateway Zero Test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

/// Terminates TLS on a loopback port and forwards the plain bytes to `target`.
async fn tls_front(pki: &Pki, target: String) -> u16 {
    use tokio_rustls::rustls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.cert_der.clone().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(pki.key_der.clone().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    actix_web::rt::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, target) = (acceptor.clone(), target.clone());
            actix_web::rt::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    port
}

/// A minimal CONNECT proxy on loopback; counts the tunnels it opened.
async fn connect_proxy() -> (u16, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let targets = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (count, seen) = (tunnels.clone(), targets.clone());
    actix_web::rt::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (count, seen) = (count.clone(), seen.clone());
            actix_web::rt::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 || head.len() > 8192 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let Some(target) = head
                    .strip_prefix("CONNECT ")
                    .and_then(|r| r.split(' ').next())
                else {
                    let _ = client.write_all(b"HTTP/1.1 405 No\r\n\r\n").await;
                    return;
                };
                seen.lock().unwrap().push(target.to_string());
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 No\r\n\r\n").await;
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (port, tunnels, targets)
}

#[actix_web::test]
async fn https_upstream_under_a_company_ca_through_a_connect_proxy() {
    let pki = company_pki();
    let mock = Mock::start();
    let mock_addr = mock.base.trim_start_matches("http://").to_string();
    let tls_port = tls_front(&pki, mock_addr).await;
    let (proxy_port, tunnels, targets) = connect_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("company-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let base_url = format!("https://localhost:{tls_port}/v1");
    let proxy = format!("http://127.0.0.1:{proxy_port}");

    let add = |gw: &Gateway| {
        let url = base_url.clone();
        let admin = gw.admin.clone();
        let base = gw.base.clone();
        async move {
            let (status, body) = send_json(
                "POST",
                &format!("{base}/providers"),
                Some(&admin),
                &json!({"name": "internal", "api_type": "openai", "base_url": url, "models": ["gpt-4o-mini"]}),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            send_json(
                "POST",
                &format!("{base}/providers/internal/keys"),
                Some(&admin),
                &json!({"key": "sk-internal-key-0001"}),
            )
            .await;
        }
    };

    // Trusting the company CA, through the proxy.
    let backend = Backend::sqlite();
    let ca = ca_file.display().to_string();
    let gw = Gateway::start(
        &backend,
        &[
            ("GATEWAY__UPSTREAM__CA_FILE", ca.as_str()),
            ("GATEWAY__UPSTREAM__PROXY", proxy.as_str()),
            ("GATEWAY__UPSTREAM__NO_PROXY", ""),
        ],
    );
    add(&gw).await;
    let (status, body) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o-mini"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["usage"]["completion_tokens"], 8);
    assert!(
        tunnels.load(Ordering::SeqCst) >= 1,
        "the call went through the proxy"
    );
    assert_eq!(
        targets.lock().unwrap()[0],
        format!("localhost:{tls_port}"),
        "CONNECT names the upstream"
    );
    let mut streamed = chat("gpt-4o-mini");
    streamed["stream"] = json!(true);
    let (status, text) = gw.chat_text(&gw.admin, &streamed).await;
    assert_eq!(status, 200);
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    // The standard variables work too: HTTPS_PROXY names the proxy, and NO_PROXY exempts.
    let backend = Backend::sqlite();
    let before = tunnels.load(Ordering::SeqCst);
    let gw = Gateway::start(
        &backend,
        &[
            ("GATEWAY__UPSTREAM__CA_FILE", ca.as_str()),
            ("HTTPS_PROXY", proxy.as_str()),
            ("NO_PROXY", "example.invalid"),
        ],
    );
    add(&gw).await;
    let (status, body) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o-mini"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        tunnels.load(Ordering::SeqCst) > before,
        "HTTPS_PROXY is honoured"
    );

    // Without the CA the certificate is refused: the CA file is what made it work.
    let backend = Backend::sqlite();
    let gw = Gateway::start(&backend, &[("GATEWAY__UPSTREAM__PROXY", "none")]);
    add(&gw).await;
    let (status, body) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o-mini"))
        .await;
    assert_error(status, &body, 502, "upstream_error", None);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("certificate"),
        "{body}"
    );
}
