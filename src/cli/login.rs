//! `gateway-zero admin login`: the Ed25519 challenge-response against a running gateway
//! (contract section 6), and the session file the other admin commands read.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::http::Http;
use crate::actors::admin_gate::login_message;
use crate::secrets::{sha256_hex, write_secret_file};

/// What `admin login` saves (mode 0600) for the commands that follow.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct SavedSession {
    pub url: String,
    pub session_token: String,
    pub expires_at: String,
}

/// `--session-file`, else `GATEWAY_ADMIN_SESSION_FILE`, else
/// `$XDG_CONFIG_HOME/gateway-zero/session.json` (`~/.config/…`).
pub fn session_path(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("GATEWAY_ADMIN_SESSION_FILE") {
        return Ok(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or("cannot find a home directory for the session file; pass --session-file")?;
    Ok(base.join("gateway-zero").join("session.json"))
}

pub fn load_session(path: &Path) -> Result<Option<SavedSession>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{} is not a session file: {e}", path.display()))
}

pub fn save_session(path: &Path, session: &SavedSession) -> Result<(), String> {
    if path.exists() {
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    }
    let text = serde_json::to_string(session).map_err(|e| e.to_string())?;
    write_secret_file(path, &text)
}

pub fn read_key(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the admin key {}: {e}", path.display()))?;
    let seed: [u8; 32] = STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{} must hold a base64 32-byte Ed25519 seed", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Runs the three steps and returns the session.
pub async fn login(http: &Http, url: &str, key: &SigningKey) -> Result<SavedSession, String> {
    let fingerprint = sha256_hex(&key.verifying_key().to_bytes());
    let challenge = http
        .call(
            http::Method::POST,
            url,
            "/auth/challenge",
            None,
            Some(json!({"fingerprint": fingerprint})),
        )
        .await?;
    let field = |v: &serde_json::Value, name: &str| {
        v[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the gateway's answer has no {name}"))
    };
    let id = field(&challenge, "challenge_id")?;
    let nonce = field(&challenge, "nonce")?;
    let signature = key.sign(login_message(&id, &nonce).as_bytes());
    let session = http
        .call(
            http::Method::POST,
            url,
            "/auth/verify",
            None,
            Some(json!({
                "challenge_id": id,
                "fingerprint": fingerprint,
                "signature": STANDARD.encode(signature.to_bytes()),
            })),
        )
        .await?;
    Ok(SavedSession {
        url: url.trim_end_matches('/').to_string(),
        session_token: field(&session, "session_token")?,
        expires_at: field(&session, "expires_at")?,
    })
}
