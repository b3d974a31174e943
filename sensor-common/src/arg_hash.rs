//! The hash that tells whether a string argument changed during a call: the enter program
//! hashes what the caller's memory held then, the record carries that hash, and the agent
//! hashes the string the exit program read. One definition for both sides, so they agree.
//!
//! FNV-1a over little-endian 8-byte words (the last one zero-padded), seeded with the length:
//! a change of any byte changes the hash, with the usual 2^-32 chance of a collision once
//! folded to 32 bits.

/// The hash of a string that could not be read (a NULL or unmapped pointer): no readable
/// string hashes to it.
pub const UNREADABLE: u32 = 0;

const BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline(always)]
pub const fn start(len: usize) -> u64 {
    BASIS ^ len as u64
}

#[inline(always)]
pub const fn step(h: u64, word: u64) -> u64 {
    (h ^ word).wrapping_mul(PRIME)
}

#[inline(always)]
pub const fn finish(h: u64) -> u32 {
    ((h ^ (h >> 32)) as u32) | 1
}

/// The hash of `bytes`.
pub fn of(bytes: &[u8]) -> u32 {
    let mut h = start(bytes.len());
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = step(h, u64::from_le_bytes(word));
    }
    finish(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differs_for_any_changed_byte_and_is_never_unreadable() {
        let a = of(b"/tmp/dir/a");
        assert_ne!(a, of(b"/tmp/dir/b"));
        assert_ne!(of(b""), UNREADABLE);
        assert_ne!(of(b"x"), of(b"x\0"));
        assert_eq!(a, of(b"/tmp/dir/a"));
    }
}
