//! Page and sync tokens. Opaque to clients; inside they carry what the emulator needs to
//! continue a listing: the query fingerprint, the change-log position and the cursor.
//! A sync token encodes (calendar, query fingerprint, log position) as protocols.md §1.14
//! item 2 asks; a token whose generation the control API retired answers 410.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncToken {
    /// What the token is for: a calendar id, or `list:{user}` for the calendar list.
    pub c: String,
    /// Change-log position: the next delta holds changes after it.
    pub s: u64,
    /// Fingerprint of the parameters that must match between syncs.
    pub f: u64,
    /// Token generation at issue time.
    pub g: u64,
    /// Issued at (Unix seconds).
    pub t: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageToken {
    /// Fingerprint of the whole query (except `pageToken`): the next page must repeat it.
    pub f: u64,
    /// Change-log position when the listing began (the `nextSyncToken` it will end with).
    pub s: u64,
    /// Sort key of the last item handed out.
    pub k: String,
    /// Page number (for the ragged page mode).
    pub n: u32,
}

pub fn encode<T: Serialize>(prefix: &str, token: &T) -> String {
    let json = serde_json::to_vec(token).unwrap_or_default();
    let mut out = String::with_capacity(prefix.len() + json.len() * 2);
    out.push_str(prefix);
    for b in json {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

pub fn decode<T: DeserializeOwned>(prefix: &str, text: &str) -> Option<T> {
    let hex = text.strip_prefix(prefix)?.as_bytes();
    if hex.len() % 2 != 0 || hex.len() > 16_384 {
        return None;
    }
    let bytes: Option<Vec<u8>> = hex.chunks(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect();
    serde_json::from_slice(&bytes?).ok()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// FNV-1a: a stable fingerprint of query parameters (stable across processes, so tokens
/// survive a snapshot restore).
pub fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let t = SyncToken { c: "a@example.com".into(), s: 7, f: 9, g: 0, t: 1 };
        let text = encode("S", &t);
        assert_eq!(decode::<SyncToken>("S", &text), Some(t));
        assert_eq!(decode::<SyncToken>("S", "Sxyz"), None);
        assert_eq!(decode::<SyncToken>("P", &text), None);
        assert_eq!(decode::<SyncToken>("S", "S0"), None);
    }

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(fingerprint(["ab", "c"]), fingerprint(["a", "bc"]));
        assert_eq!(fingerprint(["x"]), fingerprint(["x"]));
    }
}
