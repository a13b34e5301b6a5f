//! Thinning a long line without losing its spikes. A per-step loss curve can hold a hundred
//! thousand points, far more than the chart has pixels; drawing them all only makes the
//! document large. [`min_max`] splits the points into consecutive buckets of equal count and
//! keeps, per bucket, the first, the lowest, the highest and the last point, in their original
//! order. A spike is always a bucket's highest point, so it survives, and the line still joins
//! neighbouring buckets where they meet.

/// At most `4 * buckets` points of `points` (all of them when there are no more than that),
/// keeping each bucket's first, lowest-`y`, highest-`y` and last point in order.
pub fn min_max(points: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    let buckets = buckets.max(1);
    if points.len() <= 4 * buckets {
        return points.to_vec();
    }
    let mut kept = Vec::with_capacity(4 * buckets);
    let bucket_len = points.len().div_ceil(buckets);
    for (bucket_idx, bucket) in points.chunks(bucket_len).enumerate() {
        let start = bucket_idx * bucket_len;
        let mut lowest = 0;
        let mut highest = 0;
        for (i, point) in bucket.iter().enumerate() {
            if point.1 < bucket[lowest].1 {
                lowest = i;
            }
            if point.1 > bucket[highest].1 {
                highest = i;
            }
        }
        let mut chosen = [0, lowest, highest, bucket.len() - 1];
        chosen.sort_unstable();
        let mut previous = None;
        for i in chosen {
            if previous != Some(i) {
                kept.push(points[start + i]);
                previous = Some(i);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_kept_whole() {
        let points: Vec<_> = (0..40).map(|i| (f64::from(i), f64::from(i % 7))).collect();
        assert_eq!(min_max(&points, 10), points);
    }

    #[test]
    fn a_long_line_shrinks_but_keeps_its_spike_and_both_ends() {
        let mut points: Vec<_> = (0..100_000)
            .map(|i| (f64::from(i), 1.0 / f64::from(i + 1)))
            .collect();
        points[54_321].1 = 50.0;
        let kept = min_max(&points, 500);
        assert!(kept.len() <= 2000, "{} points kept", kept.len());
        assert!(kept.contains(&(54_321.0, 50.0)));
        assert_eq!(kept.first(), points.first());
        assert_eq!(kept.last(), points.last());
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "order is kept");
    }
}
