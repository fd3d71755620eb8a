//! Secrets at rest: the master key that encrypts upstream keys, and gateway tokens
//! (stored only as SHA-256 hashes).

use std::fs;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::settings::Settings;

/// Ciphertexts of the master key itself, without associated data (rows written before
/// per-purpose keys): still read, never written.
const LEGACY_PREFIX: &str = "v1:";
/// Ciphertexts of a per-purpose key with the row bound in as associated data.
const CIPHER_PREFIX: &str = "v2:";
pub const TOKEN_PREFIX: &str = "gz-";
/// Admin sessions (from the Ed25519 login) start with this, so a Bearer is told apart
/// from a gateway token without a database look-up.
pub const SESSION_PREFIX: &str = "gzs-";

/// The key that encrypts what the gateway keeps secret at rest (XChaCha20-Poly1305): each
/// purpose with its own key derived from it (HKDF-SHA256), each row's table, id and owner
/// bound in as associated data — a ciphertext moved to another row, column or table does
/// not open.
#[derive(Clone)]
pub struct MasterKey {
    legacy: XChaCha20Poly1305,
    upstream_keys: XChaCha20Poly1305,
    conversations: XChaCha20Poly1305,
}

/// What a ciphertext belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Sealed<'a> {
    /// An upstream API key of a provider.
    UpstreamKey { provider_id: i32 },
    /// A column (`input`, `response`) of a stored response of a token.
    Conversation {
        id: &'a str,
        token_id: i32,
        column: &'a str,
    },
}

impl Sealed<'_> {
    fn associated_data(&self) -> String {
        match self {
            Sealed::UpstreamKey { provider_id } => format!("provider_keys:{provider_id}"),
            Sealed::Conversation {
                id,
                token_id,
                column,
            } => format!("stored_responses:{id}:{token_id}:{column}"),
        }
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_base64(text: &str) -> Result<MasterKey, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "security.master_key is not valid base64".to_string())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "security.master_key must decode to exactly 32 bytes".to_string())?;
        Ok(MasterKey::from_bytes(key))
    }

    fn from_bytes(key: [u8; 32]) -> MasterKey {
        let derive = |purpose: &[u8]| {
            let mut out = [0u8; 32];
            hkdf::Hkdf::<Sha256>::new(None, &key)
                .expand(purpose, &mut out)
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            XChaCha20Poly1305::new(&out.into())
        };
        MasterKey {
            legacy: XChaCha20Poly1305::new(&key.into()),
            upstream_keys: derive(b"gateway-zero/v2/upstream-keys"),
            conversations: derive(b"gateway-zero/v2/conversations"),
        }
    }

    fn cipher(&self, what: &Sealed<'_>) -> &XChaCha20Poly1305 {
        match what {
            Sealed::UpstreamKey { .. } => &self.upstream_keys,
            Sealed::Conversation { .. } => &self.conversations,
        }
    }

    /// Uses `security.master_key`; on SQLite without one, reads or creates
    /// `<data_dir>/master.key`. Postgres requires the setting so instances agree.
    pub fn load(settings: &Settings) -> Result<MasterKey, String> {
        if let Some(text) = settings.security.master_key.as_deref() {
            if !text.trim().is_empty() {
                return MasterKey::from_base64(text);
            }
        }
        if !settings.is_sqlite() {
            return Err(
                "security.master_key is required with Postgres (set GATEWAY__SECURITY__MASTER_KEY \
                 to 32 random bytes in base64, the same on every instance)"
                    .into(),
            );
        }
        let path = settings.data_dir.join("master.key");
        if path.exists() {
            let text = fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            return MasterKey::from_base64(&text);
        }
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        write_secret_file(&path, &STANDARD.encode(key))?;
        log::info!("generated a new master key at {}", path.display());
        Ok(MasterKey::from_bytes(key))
    }

    /// Seals `plaintext` for `what`.
    pub fn encrypt(&self, what: Sealed<'_>, plaintext: &str) -> String {
        use chacha20poly1305::aead::Payload;
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = what.associated_data();
        let sealed = self
            .cipher(&what)
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{CIPHER_PREFIX}{}", STANDARD.encode(out))
    }

    /// Opens what was sealed for `what` (or, written before per-purpose keys, with the
    /// master key itself).
    pub fn decrypt(&self, what: Sealed<'_>, stored: &str) -> Result<String, String> {
        use chacha20poly1305::aead::Payload;
        let (body, current) = match stored.strip_prefix(CIPHER_PREFIX) {
            Some(body) => (body, true),
            None => (
                stored
                    .strip_prefix(LEGACY_PREFIX)
                    .ok_or("unknown ciphertext version")?,
                false,
            ),
        };
        let bytes = STANDARD
            .decode(body)
            .map_err(|_| "ciphertext is not base64")?;
        if bytes.len() < 24 {
            return Err("ciphertext too short".into());
        }
        let (nonce, sealed) = bytes.split_at(24);
        let aad = what.associated_data();
        let opened = if current {
            self.cipher(&what).decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
        } else {
            self.legacy.decrypt(XNonce::from_slice(nonce), sealed)
        };
        let plain = opened.map_err(|_| {
            "cannot decrypt (wrong security.master_key, or not this row's ciphertext)"
        })?;
        String::from_utf8(plain).map_err(|_| "decrypted text is not UTF-8".into())
    }

    /// Whether a ciphertext predates per-purpose keys (re-sealed at start-up where cheap).
    pub fn is_legacy(stored: &str) -> bool {
        stored.starts_with(LEGACY_PREFIX)
    }

    /// A ciphertext as the build before per-purpose keys wrote it (for upgrade tests).
    pub fn encrypt_legacy(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .legacy
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{LEGACY_PREFIX}{}", STANDARD.encode(out))
    }
}

/// Writes `content` to a new file readable only by its owner.
pub fn write_secret_file(path: &Path, content: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    writeln!(file, "{content}").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A new gateway token: `gz-` followed by 256 random bits, base64url.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new admin session token: `gzs-` followed by 256 random bits, base64url.
pub fn generate_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{SESSION_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_token(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// The part of a token kept for display: enough to tell tokens apart, useless to an attacker.
pub fn token_display_prefix(token: &str) -> String {
    token.chars().take(8).collect()
}

/// `sk-proj-abcdef…wxyz` → `sk-p****wxyz`. Short keys reveal at most their last 2 chars.
/// One allocation (the trace of every call names its key this way).
pub fn mask_key(key: &str) -> String {
    let chars = key.chars().count();
    let at = |n: usize| key.char_indices().nth(n).map_or(key.len(), |(i, _)| i);
    let (head, tail) = if chars >= 12 {
        (&key[..at(4)], &key[at(chars - 4)..])
    } else if chars >= 6 {
        ("", &key[at(chars - 2)..])
    } else {
        ("", "")
    };
    let mut masked = String::with_capacity(head.len() + 4 + tail.len());
    masked.push_str(head);
    masked.push_str("****");
    masked.push_str(tail);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypt_round_trip_and_tamper() {
        let key = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let for_key = Sealed::UpstreamKey { provider_id: 1 };
        let sealed = key.encrypt(for_key, "sk-secret-value");
        assert!(!sealed.contains("sk-secret"));
        assert_eq!(key.decrypt(for_key, &sealed).unwrap(), "sk-secret-value");
        let other = MasterKey::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.decrypt(for_key, &sealed).is_err());
        assert_ne!(
            key.encrypt(for_key, "x"),
            key.encrypt(for_key, "x"),
            "nonce must be random"
        );
    }

    #[test]
    fn a_ciphertext_opens_only_where_it_was_sealed() {
        let key = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let upstream = key.encrypt(Sealed::UpstreamKey { provider_id: 1 }, "sk-secret");
        let conversation = |id, token_id, column| Sealed::Conversation {
            id,
            token_id,
            column,
        };
        // An upstream key moved into a stored response (or another provider) does not open.
        for elsewhere in [
            conversation("resp_1", 1, "response"),
            Sealed::UpstreamKey { provider_id: 2 },
        ] {
            assert!(key.decrypt(elsewhere, &upstream).is_err(), "{elsewhere:?}");
        }
        let stored = key.encrypt(conversation("resp_1", 7, "input"), "[]");
        for elsewhere in [
            conversation("resp_2", 7, "input"),
            conversation("resp_1", 8, "input"),
            conversation("resp_1", 7, "response"),
            Sealed::UpstreamKey { provider_id: 7 },
        ] {
            assert!(key.decrypt(elsewhere, &stored).is_err(), "{elsewhere:?}");
        }
        // Rows written before per-purpose keys still open.
        let legacy = key.encrypt_legacy("sk-old");
        assert!(MasterKey::is_legacy(&legacy));
        assert_eq!(
            key.decrypt(Sealed::UpstreamKey { provider_id: 3 }, &legacy)
                .unwrap(),
            "sk-old"
        );
    }

    #[test]
    fn master_key_must_be_32_bytes() {
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn masks_keys() {
        assert_eq!(mask_key("sk-proj-1234567890abcd"), "sk-p****abcd");
        assert_eq!(mask_key("short12"), "****12");
        assert_eq!(mask_key("abc"), "****");
        assert_eq!(mask_key("ключ-секрет-длинный"), "ключ****нный");
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with("gz-") && a.len() == 46);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
