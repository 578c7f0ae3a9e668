//! Random identifiers and secrets.

/// `len` characters from `alphabet`, drawn from the OS generator.
pub(crate) fn string(alphabet: &[u8], len: usize) -> String {
    let mut bytes = vec![0u8; len];
    // The OS generator does not fail on the platforms we run on; if it ever does, a panic
    // is better than predictable tokens.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes.iter().map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()])).collect()
}

pub(crate) const BASE32HEX: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
pub(crate) const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
