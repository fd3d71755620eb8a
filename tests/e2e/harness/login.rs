//! The Ed25519 admin login as a client does it.

#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::*;

pub fn fingerprint(key: &SigningKey) -> String {
    hex::encode(Sha256::digest(key.verifying_key().to_bytes()))
}

/// The admin key the gateway generated into its data directory.
pub fn gateway_key(backend: &Backend) -> SigningKey {
    let path = backend.dir.path().join("data/admin_ed25519.key");
    let text = std::fs::read_to_string(path).expect("admin key file");
    let seed: [u8; 32] = STANDARD.decode(text.trim()).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&seed)
}

pub async fn challenge(gw: &Gateway, fp: &str) -> (u16, Value) {
    let (s, b) = send_json(
        "POST",
        &gw.url("/auth/challenge"),
        None,
        &json!({"fingerprint": fp}),
    )
    .await;
    (s.as_u16(), b)
}

/// The verify body for a challenge, signed with `key`.
pub fn answer(challenge: &Value, fp: &str, key: &SigningKey) -> Value {
    let id = challenge["challenge_id"].as_str().unwrap();
    let nonce = challenge["nonce"].as_str().unwrap();
    let message = format!("gateway-zero-login:v1:{id}:{nonce}");
    json!({
        "challenge_id": id,
        "fingerprint": fp,
        "signature": STANDARD.encode(key.sign(message.as_bytes()).to_bytes()),
    })
}

pub async fn verify(gw: &Gateway, body: &Value) -> (u16, Value) {
    let (s, b) = send_json("POST", &gw.url("/auth/verify"), None, body).await;
    (s.as_u16(), b)
}

/// A full login with `key`; the session token.
pub async fn login(gw: &Gateway, key: &SigningKey) -> String {
    let fp = fingerprint(key);
    let (s, c) = challenge(gw, &fp).await;
    assert_eq!(s, 200, "{c}");
    let (s, v) = verify(gw, &answer(&c, &fp, key)).await;
    assert_eq!(s, 200, "{v}");
    v["session_token"].as_str().unwrap().to_string()
}
