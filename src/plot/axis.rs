//! From data to axes: the range an axis spans (with padding, or whole decades on a log scale)
//! and the text of its tick labels.
//!
//! Values are clamped to ±[`MAX_MAGNITUDE`] (on a log axis, into [[`MIN_POSITIVE`],
//! [`MAX_POSITIVE`]]) before any range is computed, so spans stay finite: a diverged loss of
//! 3e38 is still drawn, at its place, `max - min` cannot overflow to infinity, and neither can
//! the ratio of a log axis's ends (plotters' log ticks loop for as many steps as that ratio has
//! decades, and an infinite ratio never ends).

/// Largest magnitude placed on an axis; larger finite values are drawn at this limit.
pub const MAX_MAGNITUDE: f64 = 1e300;

/// Smallest positive value placed on a log axis; smaller positive values are drawn there.
pub const MIN_POSITIVE: f64 = 1e-150;

/// Largest value placed on a log axis; larger values are drawn there.
pub const MAX_POSITIVE: f64 = 1e150;

/// Fraction of the data span added on each side of a linear axis.
const PADDING: f64 = 0.05;

/// A span narrower than this fraction of its centre's magnitude is treated as a single value
/// (floating-point noise, not a trend to zoom into).
const DEGENERATE_SPAN: f64 = 1e-10;

/// The smallest and largest of some values, or `None` if there are none.
pub fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Clamps a finite value into ±[`MAX_MAGNITUDE`].
pub fn clamp_linear(value: f64) -> f64 {
    value.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE)
}

/// Clamps a positive value into [[`MIN_POSITIVE`], [`MAX_POSITIVE`]].
pub fn clamp_log(value: f64) -> f64 {
    value.clamp(MIN_POSITIVE, MAX_POSITIVE)
}

/// A linear axis range for data spanning `[min, max]` (finite, clamped, `min <= max`): the
/// span plus 5 % on each side. A single value `c` gets `c ± 10 %` (`±1` around zero).
pub fn linear_range(min: f64, max: f64) -> (f64, f64) {
    let centre = min / 2.0 + max / 2.0;
    let span = max - min;
    if span <= centre.abs() * DEGENERATE_SPAN || span == 0.0 {
        let half = if centre == 0.0 {
            1.0
        } else {
            centre.abs() * 0.1
        };
        return (centre - half, centre + half);
    }
    (min - span * PADDING, max + span * PADDING)
}

/// A log axis range for positive data spanning `[min, max]` (clamped): whole decades, from
/// `10^floor(log10 min)` to `10^ceil(log10 max)`, so that at least one power of ten is labelled.
/// A single power of ten `10^k` gets `[10^(k-1), 10^(k+1)]`.
pub fn log_range(min: f64, max: f64) -> (f64, f64) {
    let mut low = min.log10().floor();
    let mut high = max.log10().ceil();
    if high <= low {
        low -= 1.0;
        high += 1.0;
    }
    (10f64.powf(low), 10f64.powf(high))
}

/// The label of a tick at `value` on a linear axis spanning `span`: as many decimals as the
/// span calls for, trailing zeros trimmed, scientific notation for magnitudes ≥ 1e5 or < 1e-3,
/// and exactly "0" for values that are zero up to rounding.
pub fn linear_tick_label(value: f64, span: f64) -> String {
    if value.abs() <= span.abs() * 1e-9 {
        return "0".to_string();
    }
    format_number(value, span.abs() / 100.0)
}

/// The label of a tick at `value` on a log axis: three significant digits at most.
pub fn log_tick_label(value: f64) -> String {
    format_number(value, value.abs() / 100.0)
}

/// `value` written with its digits down to `resolution` (> 0).
fn format_number(value: f64, resolution: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return if value.is_finite() {
            "0".to_string()
        } else {
            value.to_string()
        };
    }
    let magnitude = value.abs();
    let exponent = magnitude.log10().floor();
    let resolution_exponent = if resolution > 0.0 && resolution.is_finite() {
        resolution.log10().floor()
    } else {
        exponent - 3.0
    };
    if !(1e-3..1e5).contains(&magnitude) {
        let mantissa_decimals = (exponent - resolution_exponent).clamp(0.0, 12.0) as usize;
        let text = format!("{value:.mantissa_decimals$e}");
        match text.split_once('e') {
            Some((mantissa, power)) => format!("{}e{power}", trim_zeros(mantissa)),
            None => text,
        }
    } else {
        let decimals = (-resolution_exponent).clamp(0.0, 12.0) as usize;
        let text = trim_zeros(&format!("{value:.decimals$}")).to_string();
        if text == "-0" { "0".to_string() } else { text }
    }
}

/// "1.500" → "1.5", "2.000" → "2", "300" → "300".
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extent_of_nothing_is_none() {
        assert_eq!(extent([]), None);
        assert_eq!(extent([3.0, -1.0, 2.0]), Some((-1.0, 3.0)));
    }

    #[test]
    fn linear_ranges_pad_five_percent_each_side() {
        let cases = [
            ((0.0, 10.0), (-0.5, 10.5)),
            ((1.0, 3.0), (0.9, 3.1)),
            ((-4.0, -2.0), (-4.1, -1.9)),
        ];
        for ((min, max), (low, high)) in cases {
            let (got_low, got_high) = linear_range(min, max);
            assert!(
                (got_low - low).abs() < 1e-12 && (got_high - high).abs() < 1e-12,
                "{min}..{max}"
            );
        }
    }

    #[test]
    fn a_single_value_gets_ten_percent_either_side_and_zero_gets_one() {
        let (low, high) = linear_range(2.0, 2.0);
        assert!((low - 1.8).abs() < 1e-12 && (high - 2.2).abs() < 1e-12);
        assert_eq!(linear_range(0.0, 0.0), (-1.0, 1.0));
        // Rounding noise around 1 is one value, not a range to zoom into.
        let (low, high) = linear_range(1.0, 1.0 + 1e-13);
        assert!(low < 0.95 && high > 1.05);
    }

    #[test]
    fn the_widest_clamped_range_stays_finite() {
        let (low, high) = linear_range(-MAX_MAGNITUDE, MAX_MAGNITUDE);
        assert!(low.is_finite() && high.is_finite() && (high - low).is_finite());
    }

    #[test]
    fn log_ranges_are_whole_decades() {
        assert_eq!(log_range(0.02, 3.0), (0.01, 10.0));
        assert_eq!(log_range(5.0, 7.0), (1.0, 10.0));
        assert_eq!(log_range(10.0, 10.0), (1.0, 100.0));
        let (low, high) = log_range(MIN_POSITIVE, MAX_POSITIVE);
        assert!(low > 0.0 && (high / low).is_finite());
    }

    #[test]
    fn tick_labels_read_like_a_person_wrote_them() {
        let cases = [
            (0.30000000000000004, 1.0, "0.3"),
            (0.25, 1.0, "0.25"),
            (40.0, 100.0, "40"),
            (-2.5, 10.0, "-2.5"),
            (1.3877787807814457e-17, 1.0, "0"),
            (150000.0, 100000.0, "1.5e5"),
            (0.0002, 0.001, "2e-4"),
            (2.5e-4, 1e-3, "2.5e-4"),
        ];
        for (value, span, text) in cases {
            assert_eq!(linear_tick_label(value, span), text, "{value} over {span}");
        }
        assert_eq!(log_tick_label(1e-5), "1e-5");
        assert_eq!(log_tick_label(0.01), "0.01");
        assert_eq!(log_tick_label(100.0), "100");
        assert_eq!(log_tick_label(3e7), "3e7");
    }
}
