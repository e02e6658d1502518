//! Buffers for a job's unredacted bytes as they arrive (raw and LPD listeners): zeroized
//! when dropped, and grown without leaving a copy behind in freed memory (a plain `Vec`
//! frees its old allocation unwiped each time it grows).

use zeroize::Zeroizing;

/// Append `more` to `buf`. When the capacity runs out, the bytes move to an allocation of at
/// least twice the size and the old one is zeroized as it is dropped.
pub(crate) fn append(buf: &mut Zeroizing<Vec<u8>>, more: &[u8]) {
    if buf.capacity() - buf.len() < more.len() {
        let want = (buf.len() + more.len()).max(buf.capacity() * 2);
        let mut grown = Zeroizing::new(Vec::with_capacity(want));
        grown.extend_from_slice(buf);
        std::mem::swap(buf, &mut grown);
    }
    buf.extend_from_slice(more);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_in_order_and_grows_by_doubling() {
        let mut b = Zeroizing::new(Vec::new());
        let mut want = Vec::new();
        for i in 0..1000u32 {
            let more = i.to_le_bytes();
            append(&mut b, &more[..(i % 5) as usize]);
            want.extend_from_slice(&more[..(i % 5) as usize]);
            assert!(b.capacity() < 4 * b.len().max(8), "grows by doubling");
        }
        assert_eq!(*b, want);
    }
}
