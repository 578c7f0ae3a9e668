//! Secrets at rest (refresh tokens): XChaCha20-Poly1305 with a random 192-bit nonce per
//! write, the account's identity as associated data, stored as `version ‖ nonce ‖ ciphertext`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the encryption key must be 32 bytes written as 64 hex digits")]
    BadKey,
    #[error("a stored secret could not be decrypted (wrong key, or the data was altered)")]
    Unreadable,
}

/// Seals and opens secrets with one 256-bit key.
pub struct Sealer {
    key: SecretSlice<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    /// From 64 hex digits (e.g. `openssl rand -hex 32`).
    pub fn from_hex(hex: &str) -> Result<Self, SealError> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return Err(SealError::BadKey);
        }
        let bytes: Option<Vec<u8>> =
            (0..32).map(|i| hex.get(i * 2..i * 2 + 2).and_then(|p| u8::from_str_radix(p, 16).ok())).collect();
        Ok(Self { key: SecretSlice::from(bytes.ok_or(SealError::BadKey)?) })
    }

    /// A new random key as 64 hex digits (what `from_hex` reads).
    pub fn generate_key_hex() -> SecretString {
        let mut key = [0u8; 32];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut key).expect("the operating system's random generator failed");
        SecretString::from(key.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, SealError> {
        XChaCha20Poly1305::new_from_slice(self.key.expose_secret()).map_err(|_| SealError::BadKey)
    }

    /// Seals `secret`, bound to `context` (e.g. the account's identity).
    pub fn seal(&self, secret: &SecretString, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::BadKey)?;
        let sealed = self
            .cipher()?
            .encrypt(&XNonce::from(nonce), Payload { msg: secret.expose_secret().as_bytes(), aad: context })
            .map_err(|_| SealError::Unreadable)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<SecretString, SealError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(SealError::Unreadable);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Unreadable)?;
        let plain =
            self.cipher()?.decrypt(&nonce, Payload { msg: body, aad: context }).map_err(|_| SealError::Unreadable)?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| SealError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let sealer = Sealer::from_hex(KEY).unwrap_or_else(|e| panic!("{e}"));
        let secret = SecretString::from("1//refresh-token");
        let sealed = sealer.seal(&secret, b"account-1").unwrap_or_else(|e| panic!("{e}"));
        assert!(!sealed.windows(7).any(|w| w == b"refresh"), "the secret must not appear in clear");
        assert_eq!(
            sealer.open(&sealed, b"account-1").map(|s| s.expose_secret().to_owned()),
            Ok("1//refresh-token".into())
        );
        assert_eq!(sealer.open(&sealed, b"account-2").map(|_| ()), Err(SealError::Unreadable));
        let other = Sealer::from_hex(&KEY.replace('0', "f")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other.open(&sealed, b"account-1").map(|_| ()), Err(SealError::Unreadable));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(sealer.open(&tampered, b"account-1").map(|_| ()), Err(SealError::Unreadable));
    }

    #[test]
    fn keys_must_be_64_hex_digits() {
        assert_eq!(Sealer::from_hex("abc").map(|_| ()), Err(SealError::BadKey));
        assert_eq!(Sealer::from_hex(&"zz".repeat(32)).map(|_| ()), Err(SealError::BadKey));
    }
}
