//! Transparency-log inclusion, offline: an RFC 6962 (RFC 9162 §2.1.3.2) Merkle audit path from
//! a leaf to a root hash, and the log's checkpoint (a signed note: origin, tree size, root hash)
//! that vouches for that root. Pure functions over bytes; the caller supplies the log's key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use sigstore::crypto::{CosignVerificationKey, Signature};

/// RFC 6962 leaf hash: SHA-256(0x00 || leaf).
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// RFC 6962 interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root an audit path leads to from `leaf` at `index` in a tree of `size` leaves.
pub fn root_from_proof(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[Vec<u8>],
) -> Result<[u8; 32], String> {
    if index >= size {
        return Err(format!("leaf index {index} is outside a tree of {size}"));
    }
    // The path climbs `inner` levels where the leaf's and the last leaf's paths differ, then
    // `border` levels along the right border of the tree.
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(format!(
            "audit path has {} hashes, a tree of {size} needs {} for leaf {index}",
            proof.len(),
            inner + border
        ));
    }
    if proof.iter().any(|h| h.len() != 32) {
        return Err("audit path hash is not 32 bytes".into());
    }
    let mut hash = leaf;
    for (level, sibling) in proof[..inner].iter().enumerate() {
        hash = match (index >> level) & 1 {
            0 => node_hash(&hash, sibling),
            _ => node_hash(sibling, &hash),
        };
    }
    for sibling in &proof[inner..] {
        hash = node_hash(sibling, &hash);
    }
    Ok(hash)
}

/// What a verified checkpoint states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// First line: the log's origin string.
    pub origin: String,
    /// Second line: the tree size.
    pub size: u64,
    /// Third line: the root hash.
    pub root_hash: Vec<u8>,
}

/// Steps: 1. split the note into body and signature lines at the blank line; 2. read origin,
/// size and root hash from the body; 3. take the one signature line of the log: the first whose
/// key name is the origin's first word (`rekor.sigstore.dev` of `rekor.sigstore.dev - 1193…`,
/// the whole origin of a Rekor v2 log) and whose 4-byte key hint names `log_id` (hex SHA-256 of
/// the log key, or a Rekor v2 log's key ID); 4. verify it over the body with `key`. At most one
/// signature is verified per note, however many lines it carries: a signed note names each key
/// once, and any other line (witness cosignatures, copies) is ignored, as Go's `note.Open`
/// ignores repeated name and hint pairs.
pub fn verify_checkpoint(
    note: &str,
    log_id: &str,
    key: &CosignVerificationKey,
) -> Result<Checkpoint, String> {
    // 1. Body and signatures.
    let split = note
        .find("\n\n")
        .ok_or("checkpoint has no signature section")?;
    let (body, signatures) = (&note[..=split], &note[split + 2..]);
    // 2. The body.
    let mut lines = body.lines();
    let origin = lines.next().unwrap_or_default();
    if origin.is_empty() {
        return Err("checkpoint has no origin".into());
    }
    let size = lines
        .next()
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or("checkpoint has no tree size")?;
    let root_hash = lines
        .next()
        .and_then(|l| BASE64.decode(l).ok())
        .filter(|h| h.len() == 32)
        .ok_or("checkpoint has no root hash")?;
    // 3. The log's signature line.
    let signature = log_signature(signatures, origin, log_id)
        .ok_or("checkpoint carries no signature by the entry's log")?;
    // 4. A valid signature over the body.
    key.verify_signature(Signature::Raw(&signature), body.as_bytes())
        .map_err(|_| "the checkpoint signature does not verify with the log's key")?;
    Ok(Checkpoint {
        origin: origin.to_string(),
        size,
        root_hash,
    })
}

/// The signature (without its key hint) of the first line `— <name> <base64(hint ‖ sig)>` whose
/// name is the first word of `origin` and whose hint is the first 4 bytes of `log_id`; `None`
/// when no line is the log's. Only this one line is ever decoded past its name.
pub(crate) fn log_signature(signatures: &str, origin: &str, log_id: &str) -> Option<Vec<u8>> {
    let name = origin.split(' ').next().unwrap_or_default();
    let hint = hex::decode(log_id.get(..8)?).ok()?;
    signatures
        .lines()
        .filter_map(|line| line.strip_prefix("\u{2014} "))
        .filter_map(|line| line.split_once(' '))
        .filter(|(line_name, _)| *line_name == name)
        .find_map(|(_, encoded)| {
            BASE64
                .decode(encoded)
                .ok()
                .filter(|sig| sig.len() > 4 && sig[..4] == hint[..])
        })
        .map(|sig| sig[4..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    use rcgen::{KeyPair, PublicKeyData, SigningKey};

    /// RFC 6962 tree over leaves 0..n, computed directly (MTH of §2.1).
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
    }

    /// RFC 6962 PATH(m, D[n]).
    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<Vec<u8>> {
        if leaves.len() == 1 {
            return Vec::new();
        }
        let k = leaves.len().next_power_of_two() / 2;
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]).to_vec());
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]).to_vec());
            p
        }
    }

    #[test]
    fn every_leaf_of_trees_up_to_nine_proves_against_the_root() {
        for n in 1..=9usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let root = mth(&leaves);
            for m in 0..n {
                let proof = path(m, &leaves);
                let got = root_from_proof(m as u64, n as u64, leaves[m], &proof).unwrap();
                assert_eq!(got, root, "leaf {m} of {n}");
            }
        }
    }

    #[test]
    fn a_proof_for_another_leaf_or_a_flipped_bit_leads_elsewhere() {
        let leaves: Vec<[u8; 32]> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
        let root = mth(&leaves);
        let proof = path(2, &leaves);
        assert_ne!(root_from_proof(2, 5, leaves[3], &proof).unwrap(), root);
        let mut flipped = proof.clone();
        flipped[0][0] ^= 1;
        assert_ne!(root_from_proof(2, 5, leaves[2], &flipped).unwrap(), root);
        assert!(root_from_proof(5, 5, leaves[2], &proof).is_err());
        assert!(root_from_proof(2, 5, leaves[2], &proof[1..]).is_err());
    }

    /// Issue 24 case 4: 560 signature lines with the log's name and key hint fit in a 64 KiB
    /// bundle; each used to cost an ECDSA verification before the bundle's own signature was
    /// checked. Only the first such line is verified now: with 559 wrong signatures before the
    /// log's real one the note is refused (one verification, which failed), with the real one
    /// first it is accepted, and lines of other names are never decoded past their name.
    #[test]
    fn a_note_of_560_lines_with_the_logs_hint_costs_one_verification() {
        let key = KeyPair::generate().unwrap();
        let spki = key.subject_public_key_info();
        let log_id = hex::encode(Sha256::digest(&spki));
        let verifier = CosignVerificationKey::try_from_der(&spki).unwrap();
        let origin = "rekor.test - 1";
        let body = format!("{origin}\n5\n{}\n", BASE64.encode([7u8; 32]));
        let line = |name: &str, sig: &[u8]| {
            let mut signed = hex::decode(&log_id[..8]).unwrap();
            signed.extend_from_slice(sig);
            format!("\u{2014} {name} {}\n", BASE64.encode(signed))
        };
        // ECDSA DER signatures are 70-72 bytes; the shortest keep 560 lines under 64 KiB every run.
        let short = |message: &[u8]| {
            (0..256)
                .map(|_| key.sign(message).unwrap())
                .find(|signature| signature.len() <= 70)
                .unwrap()
        };
        let (real, wrong) = (short(body.as_bytes()), short(b"another body"));
        let (good, bad) = (line("rekor.test", &real), line("rekor.test", &wrong));
        let note = format!("{body}\n{}{good}", bad.repeat(559));
        assert!(note.len() < 64 * 1024, "{}", note.len());
        let err = verify_checkpoint(&note, &log_id, &verifier).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        let signatures = &note[body.len() + 1..];
        assert_eq!(log_signature(signatures, origin, &log_id), Some(wrong));
        let note = format!("{body}\n{good}{}", bad.repeat(559));
        assert_eq!(
            verify_checkpoint(&note, &log_id, &verifier).unwrap().size,
            5
        );
        let witness = line("witness.test", &real);
        let note = format!("{body}\n{}{good}", witness.repeat(559));
        assert_eq!(
            verify_checkpoint(&note, &log_id, &verifier).unwrap().size,
            5
        );
        let note = format!("{body}\n{}", witness.repeat(560));
        let err = verify_checkpoint(&note, &log_id, &verifier).unwrap_err();
        assert!(err.contains("no signature by the entry's log"), "{err}");
    }
}
