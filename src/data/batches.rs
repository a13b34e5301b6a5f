//! Epoch order and batch boundaries for the engine, as Keras draws them (NUMERICS.md §6.2,
//! §6.3): a fresh permutation of all training rows every epoch when shuffling, consecutive
//! slices of it as batches, `ceil(N / batch_size)` batches with the last partial one kept.
//!
//! The permutation is a Fisher–Yates shuffle over the identity, from the `Purpose::Shuffle(e)`
//! stream of the seed: for `i` from `N − 1` down to 1, swap `order[i]` with `order[j]`, `j`
//! uniform on `0..=i`. Keras's own permutations come from NumPy or TensorFlow and cannot be
//! reproduced (§6.3); ours are reproducible from the seed and epoch alone, so training can
//! restart at an epoch boundary. Nothing here allocates.

use std::ops::Range;

use ndarray::{ArrayView2, ArrayViewMut2};
use rand::RngExt;

use crate::train::rng::{self, Purpose};

/// Fills `order` with the row order of epoch `epoch`: a seeded permutation of
/// `0..order.len()` when `shuffle`, else the identity.
pub fn permutation_into(order: &mut [usize], seed: u64, epoch: usize, shuffle: bool) {
    for (position, row) in order.iter_mut().enumerate() {
        *row = position;
    }
    if !shuffle {
        return;
    }
    let mut rng = rng::stream(seed, Purpose::Shuffle(epoch));
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}

/// The positions of each batch within an epoch's order: `[0, bs), [bs, 2bs), …`, the last one
/// possibly shorter. A `batch_size` of 0 is treated as 1.
pub fn batch_ranges(rows: usize, batch_size: usize) -> impl Iterator<Item = Range<usize>> {
    let batch_size = batch_size.max(1);
    (0..rows.div_ceil(batch_size)).map(move |batch| {
        let start = batch * batch_size;
        start..(start + batch_size).min(rows)
    })
}

/// The row indices and buffers passed to [`gather_rows`] do not fit together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GatherError {
    #[error("{indices} row indices for a destination of {destination_rows} rows")]
    RowCount {
        indices: usize,
        destination_rows: usize,
    },
    #[error("source has {source_columns} columns but the destination {destination_columns}")]
    ColumnCount {
        source_columns: usize,
        destination_columns: usize,
    },
    #[error("row index {index} is out of range for {rows} rows")]
    IndexOutOfRange { index: usize, rows: usize },
}

/// Copies `source` rows `indices[k]` into row `k` of `destination` (a preallocated batch).
pub fn gather_rows(
    source: ArrayView2<'_, f32>,
    indices: &[usize],
    mut destination: ArrayViewMut2<'_, f32>,
) -> Result<(), GatherError> {
    if indices.len() != destination.nrows() {
        return Err(GatherError::RowCount {
            indices: indices.len(),
            destination_rows: destination.nrows(),
        });
    }
    if source.ncols() != destination.ncols() {
        return Err(GatherError::ColumnCount {
            source_columns: source.ncols(),
            destination_columns: destination.ncols(),
        });
    }
    if let Some(&index) = indices.iter().find(|&&index| index >= source.nrows()) {
        return Err(GatherError::IndexOutOfRange {
            index,
            rows: source.nrows(),
        });
    }
    for (&index, mut row) in indices.iter().zip(destination.rows_mut()) {
        row.assign(&source.row(index));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    #[test]
    fn without_shuffle_the_order_is_the_identity() {
        let mut order = [9; 5];
        permutation_into(&mut order, 1, 3, false);
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_shuffled_order_is_a_permutation_fixed_by_seed_and_epoch() {
        let draw = |seed, epoch| {
            let mut order = vec![0; 100];
            permutation_into(&mut order, seed, epoch, true);
            order
        };
        let first = draw(7, 0);
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(first, draw(7, 0));
        assert_ne!(first, draw(7, 1));
        assert_ne!(first, draw(8, 0));
        assert_ne!(first, sorted);
    }

    #[test]
    fn every_position_is_equally_likely_for_each_row() {
        // 3 rows: each of the 6 permutations should appear about 1/6 of 6000 times.
        let mut counts = std::collections::HashMap::new();
        for epoch in 0..6000 {
            let mut order = [0; 3];
            permutation_into(&mut order, 42, epoch, true);
            *counts.entry(order).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 6);
        for (order, count) in counts {
            // 1000 expected, standard deviation about 29.
            assert!((850..1150).contains(&count), "{order:?} seen {count} times");
        }
    }

    #[test]
    fn ten_rows_in_batches_of_four_give_three_batches_with_the_last_partial() {
        let batches: Vec<_> = batch_ranges(10, 4).collect();
        assert_eq!(batches, [0..4, 4..8, 8..10]);
        assert_eq!(batch_ranges(8, 4).count(), 2);
        assert_eq!(batch_ranges(0, 4).count(), 0);
        assert_eq!(batch_ranges(2, 0).collect::<Vec<_>>(), [0..1, 1..2]);
    }

    #[test]
    fn gathering_copies_the_indexed_rows_in_order() {
        let source = array![[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]];
        let mut batch = Array2::zeros((2, 2));
        gather_rows(source.view(), &[2, 0], batch.view_mut()).unwrap();
        assert_eq!(batch, array![[2.0, 2.5], [0.0, 0.5]]);
        assert_eq!(
            gather_rows(source.view(), &[3, 0], batch.view_mut()),
            Err(GatherError::IndexOutOfRange { index: 3, rows: 3 })
        );
        assert!(gather_rows(source.view(), &[0], batch.view_mut()).is_err());
    }
}
