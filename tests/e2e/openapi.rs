//! The OpenAPI document: valid, and every answer the gateway gives to inputs generated from
//! it is documented (Schemathesis). CI installs the Python tools and sets
//! GATEWAY_TEST_OPENAPI_FUZZ=1, which makes their absence a failure.

use serde_json::json;

use crate::harness::*;

#[actix_web::test]
async fn openapi_document_validates_and_fuzzing_finds_only_documented_answers() {
    if !sdk_ready("schemathesis", "GATEWAY_TEST_OPENAPI_FUZZ")
        || !sdk_ready("openapi_spec_validator", "GATEWAY_TEST_OPENAPI_FUZZ")
    {
        return;
    }
    let backend = Backend::sqlite();
    // A healthy upstream that serves any model: a 5xx is then the gateway's own fault.
    let mock = Mock::start();
    let gw = Gateway::start(&backend, &[]);
    gw.add_provider(
        "mock",
        &mock,
        serde_json::Value::Null,
        &["sk-fuzz-key-000001"],
    )
    .await;
    let (s, _) = gw
        .post("/v1/chat/completions", &gw.admin, &chat("gpt-4o-mini"))
        .await;
    assert_eq!(s, 200);
    run_check("openapi_check.py", &[&gw.base, &gw.admin]);
    // The gateway survived the fuzzing and still serves.
    let (s, body) = get_json(&gw.url("/health"), None).await;
    assert_eq!((s.as_u16(), body), (200, json!({"status": "ok"})));
}
