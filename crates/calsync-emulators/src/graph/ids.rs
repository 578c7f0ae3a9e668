//! Graph's ids (protocols.md §2.2, §2.8 item 1): opaque, case-sensitive, base64-like. Inside,
//! an event id carries its calendar's folder key and the item's key; an occurrence id adds
//! the occurrence's original start. The default ("REST") id names the folder, so it changes
//! when the event moves to another calendar; the immutable id (`Prefer: IdType="ImmutableId"`,
//! MS-IMM) names only the item and survives moves. Both spellings are accepted everywhere.

use crate::random;
use calsync_core::encoding::base64url;

/// Which spelling a response uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdType {
    #[default]
    Rest,
    Immutable,
}

const REST: &str = "AAMkA";
const IMMUTABLE: &str = "AAkALg";
const CALENDAR: &str = "AAMkAGc";

/// What an event or occurrence id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef {
    /// The calendar the id was issued in (REST ids only).
    pub folder: Option<u64>,
    pub item: u128,
    /// Original start (Unix seconds) of an occurrence or exception.
    pub occurrence: Option<i64>,
}

pub fn event_id(kind: IdType, folder: u64, item: u128, occurrence: Option<i64>) -> String {
    let mut bytes = Vec::with_capacity(32);
    let prefix = match kind {
        IdType::Rest => {
            bytes.extend_from_slice(&folder.to_be_bytes());
            REST
        }
        IdType::Immutable => IMMUTABLE,
    };
    bytes.extend_from_slice(&item.to_be_bytes());
    if let Some(at) = occurrence {
        bytes.extend_from_slice(&at.to_be_bytes());
    }
    format!("{prefix}{}", base64url(&bytes))
}

pub fn parse_event_id(id: &str) -> Option<ItemRef> {
    let (rest, bytes) = if let Some(b) = id.strip_prefix(IMMUTABLE) {
        (false, decode(b)?)
    } else {
        (true, decode(id.strip_prefix(REST)?)?)
    };
    let (folder, tail) = if rest {
        let (f, t) = bytes.split_first_chunk::<8>()?;
        (Some(u64::from_be_bytes(*f)), t)
    } else {
        (None, bytes.as_slice())
    };
    let (item, tail) = tail.split_first_chunk::<16>()?;
    let occurrence = match tail.len() {
        0 => None,
        8 => Some(i64::from_be_bytes(tail.try_into().ok()?)),
        _ => return None,
    };
    Some(ItemRef { folder, item: u128::from_be_bytes(*item), occurrence })
}

pub fn calendar_id(folder: u64) -> String {
    format!("{CALENDAR}{}", base64url(&folder.to_be_bytes()))
}

pub fn parse_calendar_id(id: &str) -> Option<u64> {
    let bytes = decode(id.strip_prefix(CALENDAR)?)?;
    Some(u64::from_be_bytes(bytes.as_slice().try_into().ok()?))
}

pub fn new_item_key() -> u128 {
    u128::from_be_bytes(random_bytes::<16>())
}

pub fn new_folder_key() -> u64 {
    u64::from_be_bytes(random_bytes::<8>())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // See `random::string`: a failing OS generator is not worth limping on.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    b
}

/// A fresh `changeKey`: base64 text like Exchange's (`EZ9r3czxY0m2jz8c45czkwAAFXcvIQ==`).
pub fn new_change_key() -> String {
    format!("{}==", random::string(STD_B64, 30))
}

/// A GUID in its usual spelling (user ids, subscription ids, request ids).
pub fn guid() -> String {
    let h = random::string(b"0123456789abcdef", 32);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

const STD_B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding, strictly: a character outside the alphabet or leftover bits
/// that are not zero make the text no id at all (so a re-cased id never names another item).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if text.len() > 4096 || text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut nbits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = u32::try_from(URL_B64.iter().position(|x| *x == c)?).ok()?;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push(u8::try_from((bits >> nbits) & 0xff).ok()?);
        }
    }
    if bits & ((1 << nbits) - 1) != 0 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_re_cased_ids_name_nothing() {
        let item = 0x0123_4567_89ab_cdef_0011_2233_4455_6677;
        for kind in [IdType::Rest, IdType::Immutable] {
            for occ in [None, Some(1_714_550_400)] {
                let id = event_id(kind, 42, item, occ);
                let parsed = parse_event_id(&id).unwrap_or_else(|| panic!("{id}"));
                assert_eq!((parsed.item, parsed.occurrence), (item, occ));
                assert_eq!(parsed.folder, (kind == IdType::Rest).then_some(42));
                let lower = id.to_ascii_lowercase();
                assert!(parse_event_id(&lower).is_none_or(|p| p.item != item), "{lower}");
            }
        }
        assert_eq!(parse_calendar_id(&calendar_id(7)), Some(7));
        assert_eq!(parse_event_id("AAMkA!!"), None);
        assert_eq!(parse_event_id(""), None);
    }
}
