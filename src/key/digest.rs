//! Stable layer digests: SHA-256 over a canonical, sorted serialisation, cut to a fixed length
//! so that no layer value can be a prefix of another.

use sha2::{Digest, Sha256};

use super::Input;

/// Hex characters kept from each layer digest (64 bits).
pub const LAYER_HEX: usize = 16;

/// Full lowercase-hex SHA-256 of bytes (per-file digests shown to users).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The fixed-length digest of a layer's inputs. Inputs are sorted first (by name, component-wise
/// for paths), so the order in which files were found or variables listed never matters.
pub fn layer_digest(inputs: &[Input]) -> String {
    let mut sorted: Vec<&Input> = inputs.iter().collect();
    sorted.sort_by(|a, b| {
        a.name
            .split('/')
            .cmp(b.name.split('/'))
            .then(a.value.cmp(&b.value))
    });
    let mut h = Sha256::new();
    for i in sorted {
        // NUL and newline cannot occur in names; values are length-prefixed so none can run into
        // the next record.
        h.update(i.name.as_bytes());
        h.update([0]);
        h.update((i.value.len() as u64).to_le_bytes());
        h.update(i.value.as_bytes());
        h.update(b"\n");
    }
    let mut out = hex::encode(h.finalize());
    out.truncate(LAYER_HEX);
    out
}
