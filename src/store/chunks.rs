//! Cutting a batch into multi-row statements of a few fixed sizes.
//!
//! A multi-row `INSERT … VALUES (…), (…)` has one SQL text per row count, and the driver
//! prepares each distinct text afresh (SQLite parses it: ~280k instructions for a 50-row
//! log insert). Cut into the sizes below, largest first, a batch of any length uses at
//! most seven texts per table, all of them hits in the prepared-statement cache after the
//! first batches (measured with callgrind: a distinct tail per batch cost ~28k
//! instructions a call at small batches).

/// The row counts a statement may have, largest first.
pub const SIZES: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// The sizes `rows` rows are cut into: 64s, then the rest in 32, 16, … 1 (each at most
/// once).
pub fn sizes(mut rows: usize) -> impl Iterator<Item = usize> {
    let mut next = 0;
    std::iter::from_fn(move || {
        while next < SIZES.len() && rows < SIZES[next] {
            next += 1;
        }
        let size = *SIZES.get(next)?;
        rows -= size;
        Some(size)
    })
}

/// `items` cut into slices of [`sizes`].
pub fn cut<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    sizes(items.len()).map(move |n| {
        let (chunk, rest) = items.split_at(n);
        items = rest;
        chunk
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_into_the_seven_sizes() {
        let cut_n = |n| sizes(n).collect::<Vec<_>>();
        assert_eq!(cut_n(0), Vec::<usize>::new());
        assert_eq!(cut_n(1), [1]);
        assert_eq!(cut_n(64), [64]);
        assert_eq!(cut_n(500), [64, 64, 64, 64, 64, 64, 64, 32, 16, 4]);
        assert_eq!(cut_n(127), [64, 32, 16, 8, 4, 2, 1]);
        for n in 0..1000 {
            assert_eq!(cut_n(n).iter().sum::<usize>(), n);
            assert!(cut_n(n).iter().all(|s| SIZES.contains(s)));
        }
        let items: Vec<usize> = (0..77).collect();
        let slices: Vec<&[usize]> = cut(&items).collect();
        assert_eq!(
            slices.iter().map(|s| s.len()).collect::<Vec<_>>(),
            [64, 8, 4, 1]
        );
        assert_eq!(slices.concat(), items);
    }
}
