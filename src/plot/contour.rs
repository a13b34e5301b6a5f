//! Contour lines of a sampled function, by marching squares.
//!
//! The function is sampled on a regular grid ([`Grid::sample`]). For one level, each grid cell
//! is classified by which of its four corners lie above the level (16 cases); the cases say
//! which cell edges the contour crosses, and the crossing points are found by linear
//! interpolation along those edges. In the two saddle cases (diagonally opposite corners above)
//! the mean of the four corners decides which pair of corners the contour keeps together.
//! Segments that share an edge crossing are then joined into polylines, closed ones ending
//! where they start. A cell with a NaN or infinite corner is left out.
//!
//! [`levels`] picks the levels: quantiles of the sampled values at positions `(k / (n + 1))²`,
//! so that for a bowl (area below a level ∝ the level) the rings come out evenly spaced, the
//! valley as visible as the rim, whatever the function's range.

use std::collections::HashMap;

/// Values of a function at the nodes of a regular grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Node abscissas, ascending.
    pub xs: Vec<f64>,
    /// Node ordinates, ascending.
    pub ys: Vec<f64>,
    /// `values[j * xs.len() + i] = f(xs[i], ys[j])`.
    pub values: Vec<f64>,
}

impl Grid {
    /// Samples `f` at `nx × ny` nodes spanning `x` and `y` (inclusive); `nx, ny ≥ 2`.
    pub fn sample(
        f: &dyn Fn(f64, f64) -> f64,
        x: (f64, f64),
        y: (f64, f64),
        nx: usize,
        ny: usize,
    ) -> Grid {
        let (nx, ny) = (nx.max(2), ny.max(2));
        let nodes = |(low, high): (f64, f64), n: usize| -> Vec<f64> {
            (0..n)
                .map(|k| low + (high - low) * k as f64 / (n - 1) as f64)
                .collect()
        };
        let xs = nodes(x, nx);
        let ys = nodes(y, ny);
        let values = ys
            .iter()
            .flat_map(|&y| xs.iter().map(move |&x| f(x, y)))
            .collect();
        Grid { xs, ys, values }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.values[j * self.xs.len() + i]
    }

    /// Where the contour at `level` crosses `edge` (whose ends straddle the level).
    fn crossing(&self, edge: Edge, level: f64) -> (f64, f64) {
        let ((i0, j0), (i1, j1)) = match edge {
            Edge::Horizontal(i, j) => ((i, j), (i + 1, j)),
            Edge::Vertical(i, j) => ((i, j), (i, j + 1)),
        };
        let (v0, v1) = (self.at(i0, j0), self.at(i1, j1));
        let t = ((level - v0) / (v1 - v0)).clamp(0.0, 1.0);
        let t = if t.is_finite() { t } else { 0.5 };
        let (x0, y0) = (self.xs[i0], self.ys[j0]);
        let (x1, y1) = (self.xs[i1], self.ys[j1]);
        (x0 + t * (x1 - x0), y0 + t * (y1 - y0))
    }
}

/// A grid edge: `Horizontal(i, j)` joins nodes `(i, j)` and `(i + 1, j)`, `Vertical(i, j)`
/// joins `(i, j)` and `(i, j + 1)`. Neighbouring cells name a shared edge the same way, which
/// is what lets segments be joined exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Edge {
    Horizontal(usize, usize),
    Vertical(usize, usize),
}

/// `count` contour levels for `grid`, ascending and distinct, strictly between the smallest
/// and largest finite sampled value (fewer when the values are few or flat; none when the
/// function is constant or nowhere finite).
pub fn levels(grid: &Grid, count: usize) -> Vec<f64> {
    let mut finite: Vec<f64> = grid
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    finite.sort_by(f64::total_cmp);
    let (Some(&min), Some(&max)) = (finite.first(), finite.last()) else {
        return Vec::new();
    };
    let last_idx = (finite.len() - 1) as f64;
    let mut chosen: Vec<f64> = Vec::with_capacity(count);
    for k in 1..=count {
        let position = (k as f64 / (count + 1) as f64).powi(2) * last_idx;
        let below = position.floor() as usize;
        let above = position.ceil() as usize;
        let fraction = position - below as f64;
        let level = finite[below] + (finite[above] - finite[below]) * fraction;
        let distinct = chosen.last().is_none_or(|&last| level > last);
        if level > min && level < max && distinct {
            chosen.push(level);
        }
    }
    chosen
}

/// The contour of `grid` at `level`, as polylines of `(x, y)` points. A closed contour's last
/// point repeats its first.
pub fn contour_lines(grid: &Grid, level: f64) -> Vec<Vec<(f64, f64)>> {
    let segments = cell_segments(grid, level);
    let mut by_edge: HashMap<Edge, Vec<usize>> = HashMap::new();
    for (segment_idx, (a, b)) in segments.iter().enumerate() {
        by_edge.entry(*a).or_default().push(segment_idx);
        by_edge.entry(*b).or_default().push(segment_idx);
    }
    let mut used = vec![false; segments.len()];
    // The unused segment meeting `edge`, and the edge at its other end.
    let next = |edge: Edge, used: &mut Vec<bool>| -> Option<Edge> {
        let segment_idx = *by_edge.get(&edge)?.iter().find(|&&s| !used[s])?;
        used[segment_idx] = true;
        let (a, b) = segments[segment_idx];
        Some(if a == edge { b } else { a })
    };
    let mut lines = Vec::new();
    for start_idx in 0..segments.len() {
        if used[start_idx] {
            continue;
        }
        used[start_idx] = true;
        let (first, second) = segments[start_idx];
        let mut forward = vec![first, second];
        let mut tail = second;
        while let Some(edge) = next(tail, &mut used) {
            forward.push(edge);
            tail = edge;
            if edge == first {
                break;
            }
        }
        let mut backward = Vec::new();
        if tail != first {
            let mut head = first;
            while let Some(edge) = next(head, &mut used) {
                backward.push(edge);
                head = edge;
            }
        }
        let line = backward
            .iter()
            .rev()
            .chain(forward.iter())
            .map(|&e| grid.crossing(e, level))
            .collect();
        lines.push(line);
    }
    lines
}

/// Every cell's contour segments at `level`, each as the pair of edges it joins.
fn cell_segments(grid: &Grid, level: f64) -> Vec<(Edge, Edge)> {
    let mut segments = Vec::new();
    for j in 0..grid.ys.len().saturating_sub(1) {
        for i in 0..grid.xs.len().saturating_sub(1) {
            let corners = [
                grid.at(i, j),
                grid.at(i + 1, j),
                grid.at(i + 1, j + 1),
                grid.at(i, j + 1),
            ];
            if corners.iter().any(|v| !v.is_finite()) {
                continue;
            }
            // Bits: bottom-left 1, bottom-right 2, top-right 4, top-left 8.
            let case = corners.iter().enumerate().fold(0u8, |acc, (bit, v)| {
                if *v > level { acc | (1 << bit) } else { acc }
            });
            let bottom = Edge::Horizontal(i, j);
            let right = Edge::Vertical(i + 1, j);
            let top = Edge::Horizontal(i, j + 1);
            let left = Edge::Vertical(i, j);
            let centre_above = corners.iter().sum::<f64>() / 4.0 > level;
            match case {
                1 | 14 => segments.push((left, bottom)),
                2 | 13 => segments.push((bottom, right)),
                3 | 12 => segments.push((left, right)),
                4 | 11 => segments.push((right, top)),
                6 | 9 => segments.push((bottom, top)),
                7 | 8 => segments.push((left, top)),
                // Bottom-left and top-right above: keep them joined through the centre if it is
                // above too, cutting off the two corners below.
                5 if centre_above => segments.extend([(bottom, right), (left, top)]),
                5 => segments.extend([(left, bottom), (right, top)]),
                10 if centre_above => segments.extend([(left, bottom), (right, top)]),
                10 => segments.extend([(bottom, right), (left, top)]),
                _ => {}
            }
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bowl(x: f64, y: f64) -> f64 {
        x * x + y * y
    }

    #[test]
    fn the_unit_circle_of_a_round_bowl_is_one_closed_line_of_radius_one() {
        let grid = Grid::sample(&bowl, (-2.0, 2.0), (-2.0, 2.0), 81, 81);
        let lines = contour_lines(&grid, 1.0);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line.first(), line.last(), "closed");
        assert!(line.len() > 40);
        for (x, y) in line {
            let radius = (x * x + y * y).sqrt();
            // Linear interpolation on a 0.05 grid puts points within ~0.1 % of the circle.
            assert!(
                (radius - 1.0).abs() < 2e-3,
                "point ({x}, {y}) at radius {radius}"
            );
        }
    }

    #[test]
    fn a_plane_has_straight_open_contours_through_the_exact_crossings() {
        // f = x + 2y on [0,1]²; level 1 is the line x = 1 - 2y, from (1, 0) to (0, 0.5).
        let grid = Grid::sample(&|x, y| x + 2.0 * y, (0.0, 1.0), (0.0, 1.0), 11, 11);
        let lines = contour_lines(&grid, 1.0);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_ne!(line.first(), line.last(), "open");
        for (x, y) in line {
            assert!(
                (x + 2.0 * y - 1.0).abs() < 1e-12,
                "({x}, {y}) is off the line"
            );
        }
        let ends = [line[0], line[line.len() - 1]];
        for end in [(1.0, 0.0), (0.0, 0.5)] {
            assert!(
                ends.iter()
                    .any(|p| (p.0 - end.0).abs() < 1e-12 && (p.1 - end.1).abs() < 1e-12),
                "{end:?} in {ends:?}"
            );
        }
    }

    #[test]
    fn a_saddle_cell_follows_its_centre() {
        // Corners: bottom-left 1, bottom-right 0, top-right 1, top-left 0 → case 5.
        // values[j * 2 + i]: (0,0) = 1, (1,0) = 0, (0,1) = 0, (1,1) = 1.
        let grid = Grid {
            xs: vec![0.0, 1.0],
            ys: vec![0.0, 1.0],
            values: vec![1.0, 0.0, 0.0, 1.0],
        };
        // Level 0.4: the centre (0.5) is above, so the contour cuts off the two low corners.
        let high_centre = contour_lines(&grid, 0.4);
        assert_eq!(high_centre.len(), 2);
        for line in &high_centre {
            let (mid_x, mid_y) = ((line[0].0 + line[1].0) / 2.0, (line[0].1 + line[1].1) / 2.0);
            let near_low_corner = (mid_x > 0.5 && mid_y < 0.5) || (mid_x < 0.5 && mid_y > 0.5);
            assert!(near_low_corner, "{line:?}");
        }
        // Level 0.6: the centre is below, so the two high corners are cut off instead.
        for line in &contour_lines(&grid, 0.6) {
            let (mid_x, mid_y) = ((line[0].0 + line[1].0) / 2.0, (line[0].1 + line[1].1) / 2.0);
            let near_high_corner = (mid_x < 0.5 && mid_y < 0.5) || (mid_x > 0.5 && mid_y > 0.5);
            assert!(near_high_corner, "{line:?}");
        }
    }

    #[test]
    fn cells_touching_nan_are_left_out_without_breaking_the_rest() {
        let f = |x: f64, y: f64| if x > 0.5 { f64::NAN } else { bowl(x, y) };
        let grid = Grid::sample(&f, (-2.0, 2.0), (-2.0, 2.0), 41, 41);
        let lines = contour_lines(&grid, 1.0);
        assert_eq!(lines.len(), 1, "the circle's left part, open");
        assert!(lines[0].iter().all(|(x, _)| *x <= 0.5 + 1e-12));
    }

    #[test]
    fn levels_space_a_bowls_rings_evenly() {
        let grid = Grid::sample(&bowl, (-1.0, 1.0), (-1.0, 1.0), 201, 201);
        let chosen = levels(&grid, 6);
        assert_eq!(chosen.len(), 6);
        // Inside the inscribed disc, area below level L is πL, a fraction πL/4 of the square:
        // quantile (k/7)² gives L = 4(k/7)²/π and radius √L = (2/√π)·k/7.
        let radii: Vec<f64> = chosen.iter().map(|l| l.sqrt()).collect();
        for (k, radius) in radii.iter().take(4).enumerate() {
            let expected = 2.0 / std::f64::consts::PI.sqrt() * (k + 1) as f64 / 7.0;
            assert!(
                (radius - expected).abs() < 0.01,
                "ring {k}: {radius} vs {expected}"
            );
        }
    }

    #[test]
    fn a_constant_or_undefined_function_has_no_levels() {
        assert!(levels(&Grid::sample(&|_, _| 3.0, (0.0, 1.0), (0.0, 1.0), 5, 5), 10).is_empty());
        assert!(
            levels(
                &Grid::sample(&|_, _| f64::NAN, (0.0, 1.0), (0.0, 1.0), 5, 5),
                10
            )
            .is_empty()
        );
    }

    #[test]
    fn levels_are_ascending_and_inside_the_range() {
        let grid = Grid::sample(
            &|x, y| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            (-2.0, 2.0),
            (-1.0, 3.0),
            60,
            60,
        );
        let chosen = levels(&grid, 12);
        assert_eq!(chosen.len(), 12);
        assert!(chosen.windows(2).all(|w| w[0] < w[1]));
        let max = grid.values.iter().copied().fold(f64::MIN, f64::max);
        assert!(chosen[0] > 0.0 && chosen[11] < max);
    }
}
