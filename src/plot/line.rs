//! Line charts with a legend: any number of named series against a shared x axis, on a linear
//! or log y axis.
//!
//! Layout, top to bottom: the title, then the plot with the legend in a column to its right.
//! The legend lists every series in order with its colour swatch (a filled bar, so the only
//! `<polyline>`s in the document in a series' colour are its data); when the series do not fit
//! in the columns the legend may take (at most 40 % of the width), the last row says how many
//! more there are. Each run of consecutive drawable points becomes one `<polyline>`; a point
//! with no drawable neighbour becomes a dot.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{self, clamp_linear, clamp_log};
use super::palette::{self, NOTE_GREY};
use super::svg::{MAX_LABEL_CHARS, clean_text, make_accessible};
use super::{ChartSpec, PlotError, Scale, Series, check_size, decimate, render_error};

/// Legend label length in characters; the document's `<desc>` keeps the full names.
const LEGEND_LABEL_CHARS: usize = 32;
const LEGEND_ROW_HEIGHT: u32 = 18;
const LEGEND_FONT: u32 = 13;
/// Estimated width of one legend character in pixels (the naive font measure is 0.6–0.7 em).
const LEGEND_CHAR_WIDTH: u32 = 8;
/// Swatch, gap and right padding around a legend label, in pixels.
const LEGEND_ROW_CHROME: u32 = 44;
/// The legend never takes more than this share of the chart's width.
const LEGEND_MAX_SHARE: f64 = 0.4;
/// Series names listed in `<desc>` before "and N more".
const DESCRIBED_SERIES: usize = 40;

/// Renders `series` as an SVG line chart.
///
/// Axis ranges come from the drawable points (see [`axis`]); points with a NaN or infinite
/// coordinate are skipped and leave a gap, and so are `y ≤ 0` on a log scale. A series with no
/// drawable point is still listed in the legend, marked "(no data)"; a chart with none at all
/// shows "no data yet" (or, on a log scale with only non-positive values, says so).
///
/// Errors only for a size outside [`super::MIN_SIZE`]..=[`super::MAX_SIZE`].
pub fn line_chart(spec: &ChartSpec, series: &[Series]) -> Result<String, PlotError> {
    check_size(spec.width, spec.height)?;
    let title = clean_text(&spec.title, MAX_LABEL_CHARS);
    let x_label = clean_text(&spec.x_label, MAX_LABEL_CHARS);
    let y_label = clean_text(&spec.y_label, MAX_LABEL_CHARS);

    let prepared: Vec<PreparedSeries> = series
        .iter()
        .enumerate()
        .map(|(index, s)| PreparedSeries::new(index, s, spec.y_scale, spec.width as usize))
        .collect();
    let all_points = || prepared.iter().flat_map(|s| s.segments.iter().flatten());
    let x_extent = axis::extent(all_points().map(|p| p.0));
    let y_extent = axis::extent(all_points().map(|p| p.1));
    let empty_message = match (x_extent, y_extent) {
        (Some(_), Some(_)) => None,
        _ if spec.y_scale == Scale::Log && series.iter().any(has_finite_point) => {
            Some("no positive values to show on a log scale")
        }
        _ => Some("no data yet"),
    };

    let mut document = String::new();
    {
        let root =
            SVGBackend::with_string(&mut document, (spec.width, spec.height)).into_drawing_area();
        root.fill(&WHITE).map_err(render_error)?;
        let body = root
            .titled(&title, ("sans-serif", 22).into_font().color(&BLACK))
            .map_err(render_error)?;
        let (body_width, body_height) = body.dim_in_pixel();
        let legend = LegendLayout::new(&prepared, body_width, body_height);
        let (plot_area, legend_area) = body.split_horizontally(body_width - legend.width);

        let x_range = match x_extent {
            Some((min, max)) => axis::linear_range(min, max),
            None => (0.0, 1.0),
        };
        let plot = Plot {
            x_label: &x_label,
            y_label: &y_label,
            x_range,
            series: &prepared,
            empty_message,
        };
        match spec.y_scale {
            Scale::Linear => {
                let (low, high) =
                    y_extent.map_or((0.0, 1.0), |(min, max)| axis::linear_range(min, max));
                let span = high - low;
                let label = move |v: &f64| axis::linear_tick_label(*v, span);
                plot.draw(&plot_area, RangedCoordf64::from(low..high), &label)?;
            }
            Scale::Log => {
                let (low, high) =
                    y_extent.map_or((1.0, 10.0), |(min, max)| axis::log_range(min, max));
                let label = |v: &f64| axis::log_tick_label(*v);
                plot.draw(&plot_area, LogCoord::from((low..high).log_scale()), &label)?;
            }
        }
        legend.draw(&legend_area, &prepared)?;
        root.present().map_err(render_error)?;
    }
    let description = describe(&prepared, &x_label, &y_label, spec.y_scale, empty_message);
    Ok(make_accessible(&document, &title, &description))
}

/// A series ready to draw: its legend label, colour and runs of drawable points.
struct PreparedSeries {
    name: String,
    colour: RGBColor,
    segments: Vec<Vec<(f64, f64)>>,
}

impl PreparedSeries {
    /// Splits `series` into runs of drawable points (clamped as [`axis`] says), each thinned to
    /// about `buckets` pixels' worth.
    fn new(index: usize, series: &Series, scale: Scale, buckets: usize) -> Self {
        let mut segments = Vec::new();
        let mut current = Vec::new();
        for &(x, y) in &series.points {
            let drawable = x.is_finite() && y.is_finite() && (scale == Scale::Linear || y > 0.0);
            if drawable {
                let y = match scale {
                    Scale::Linear => clamp_linear(y),
                    Scale::Log => clamp_log(y),
                };
                current.push((clamp_linear(x), y));
            } else if !current.is_empty() {
                segments.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            segments.push(current);
        }
        // A line broken by NaN at every other point would become one dot per point; past
        // 4 runs per pixel column only every k-th run is drawn, as decimation does for points.
        let stride = segments.len().div_ceil(4 * buckets.max(1)).max(1);
        let segments = segments
            .iter()
            .step_by(stride)
            .map(|s| decimate::min_max(s, buckets))
            .collect();
        PreparedSeries {
            name: clean_text(&series.name, MAX_LABEL_CHARS),
            colour: palette::series_colour(index),
            segments,
        }
    }

    fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

fn has_finite_point(series: &Series) -> bool {
    series
        .points
        .iter()
        .any(|(x, y)| x.is_finite() && y.is_finite())
}

/// The plot part of a line chart: axes, grid, series and the "no data" message.
struct Plot<'a> {
    x_label: &'a str,
    y_label: &'a str,
    x_range: (f64, f64),
    series: &'a [PreparedSeries],
    empty_message: Option<&'a str>,
}

impl Plot<'_> {
    fn draw<DB, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        y_coord: Y,
        y_tick_label: &dyn Fn(&f64) -> String,
    ) -> Result<(), PlotError>
    where
        DB: DrawingBackend,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let (x_low, x_high) = self.x_range;
        let x_span = x_high - x_low;
        let x_tick_label = move |v: &f64| axis::linear_tick_label(*v, x_span);
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(76)
            .build_cartesian_2d(RangedCoordf64::from(x_low..x_high), y_coord)
            .map_err(render_error)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&x_tick_label)
            .y_label_formatter(y_tick_label)
            .label_style(("sans-serif", 13).into_font().color(&BLACK))
            .axis_desc_style(("sans-serif", 15).into_font().color(&BLACK))
            .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
            .light_line_style(RGBColor(0xF2, 0xF2, 0xF2))
            .axis_style(RGBColor(0x44, 0x44, 0x44))
            .draw()
            .map_err(render_error)?;

        for series in self.series {
            let line = ShapeStyle {
                color: series.colour.to_rgba(),
                filled: false,
                stroke_width: 2,
            };
            for segment in &series.segments {
                if let [point] = segment.as_slice() {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            *point,
                            3,
                            series.colour.filled(),
                        )))
                        .map_err(render_error)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(segment.iter().copied(), line))
                        .map_err(render_error)?;
                }
            }
        }

        if let Some(message) = self.empty_message {
            let plotting = chart.plotting_area().strip_coord_spec();
            let (width, height) = plotting.dim_in_pixel();
            let style = ("sans-serif", 20)
                .into_font()
                .color(&NOTE_GREY)
                .pos(Pos::new(HPos::Center, VPos::Center));
            plotting
                .draw(&Text::new(
                    message.to_string(),
                    (width as i32 / 2, height as i32 / 2),
                    style,
                ))
                .map_err(render_error)?;
        }
        Ok(())
    }
}

/// How the legend column is laid out for a given body size.
struct LegendLayout {
    /// Pixels taken from the right of the body; 0 when there are no series.
    width: u32,
    column_width: u32,
    rows: usize,
    /// Entries drawn; when fewer than the series, one more row says "… and N more".
    shown: usize,
}

impl LegendLayout {
    fn new(series: &[PreparedSeries], body_width: u32, body_height: u32) -> Self {
        if series.is_empty() {
            return LegendLayout {
                width: 0,
                column_width: 0,
                rows: 0,
                shown: 0,
            };
        }
        let longest = series
            .iter()
            .map(|s| legend_label(s).chars().count())
            .max()
            .unwrap_or(0) as u32;
        let column_width = LEGEND_ROW_CHROME + longest * LEGEND_CHAR_WIDTH;
        let rows = (body_height.saturating_sub(24) / LEGEND_ROW_HEIGHT).max(1) as usize;
        let max_width = (f64::from(body_width) * LEGEND_MAX_SHARE) as u32;
        let max_columns = (max_width / column_width).max(1) as usize;
        let columns = series.len().div_ceil(rows).min(max_columns);
        let shown = if series.len() <= columns * rows {
            series.len()
        } else {
            columns * rows - 1
        };
        let width = (column_width * columns as u32).min(max_width);
        LegendLayout {
            width,
            column_width,
            rows,
            shown,
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        series: &[PreparedSeries],
    ) -> Result<(), PlotError> {
        if self.width == 0 {
            return Ok(());
        }
        let text_style = |colour: &RGBColor| {
            ("sans-serif", LEGEND_FONT)
                .into_font()
                .color(colour)
                .pos(Pos::new(HPos::Left, VPos::Center))
        };
        let row_position = |entry: usize| {
            let column = (entry / self.rows) as i32;
            let row = (entry % self.rows) as i32;
            let x = 4 + column * self.column_width as i32;
            let y = 24 + row * LEGEND_ROW_HEIGHT as i32;
            (x, y)
        };
        for (entry, s) in series.iter().take(self.shown).enumerate() {
            let (x, y) = row_position(entry);
            area.draw(&Rectangle::new(
                [(x, y - 2), (x + 22, y + 2)],
                s.colour.filled(),
            ))
            .map_err(render_error)?;
            area.draw(&Text::new(legend_label(s), (x + 28, y), text_style(&BLACK)))
                .map_err(render_error)?;
        }
        if self.shown < series.len() {
            let (x, y) = row_position(self.shown);
            let more = format!("… and {} more", series.len() - self.shown);
            area.draw(&Text::new(more, (x + 28, y), text_style(&NOTE_GREY)))
                .map_err(render_error)?;
        }
        Ok(())
    }
}

/// A series' legend text: its name cut to [`LEGEND_LABEL_CHARS`], marked when it has no data.
fn legend_label(series: &PreparedSeries) -> String {
    let name = clean_text(&series.name, LEGEND_LABEL_CHARS);
    if series.is_empty() {
        format!("{name} (no data)")
    } else {
        name
    }
}

/// The text of the document's `<desc>`: what is plotted against what, and on which scale.
fn describe(
    series: &[PreparedSeries],
    x_label: &str,
    y_label: &str,
    scale: Scale,
    empty_message: Option<&str>,
) -> String {
    let mut names: Vec<&str> = series
        .iter()
        .take(DESCRIBED_SERIES)
        .map(|s| s.name.as_str())
        .collect();
    let more = series.len().saturating_sub(DESCRIBED_SERIES);
    let more_text = format!("and {more} more");
    if more > 0 {
        names.push(&more_text);
    }
    let scale = match scale {
        Scale::Linear => "linear",
        Scale::Log => "logarithmic",
    };
    let mut description = format!(
        "Line chart of {} ({y_label} against {x_label}, {scale} scale).",
        if names.is_empty() {
            "no series".to_string()
        } else {
            names.join(", ")
        }
    );
    if let Some(message) = empty_message {
        description.push_str(&format!(
            " {}{}.",
            message[..1].to_uppercase(),
            &message[1..]
        ));
    }
    description
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::inspect::inspect;
    use crate::plot::palette::{hex, series_colour};

    fn spec() -> ChartSpec {
        ChartSpec::new("Training loss", "epoch", "loss")
    }

    fn series(name: &str, points: &[(f64, f64)]) -> Series {
        Series::new(name, points.to_vec())
    }

    fn ramp(n: usize, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (1..=n).map(|i| (i as f64, f(i as f64))).collect()
    }

    #[test]
    fn two_series_make_a_titled_accessible_chart_with_a_legend_and_one_line_each() {
        let data = [
            series("loss", &ramp(20, |e| 1.0 / e)),
            series("val_loss", &ramp(20, |e| 1.2 / e + 0.05)),
        ];
        let svg = line_chart(&spec(), &data).unwrap();
        let doc = inspect(&svg);
        assert_eq!(doc.root_role.as_deref(), Some("img"));
        assert_eq!(doc.aria_label.as_deref(), Some("Training loss"));
        assert_eq!(doc.title.as_deref(), Some("Training loss"));
        for text in ["Training loss", "loss", "val_loss", "epoch"] {
            assert!(
                doc.has_text(text),
                "missing text {text:?} in {:?}",
                doc.texts
            );
        }
        assert_eq!(doc.polylines_in(&hex(series_colour(0))), 1);
        assert_eq!(doc.polylines_in(&hex(series_colour(1))), 1);
        assert!(
            doc.polylines.iter().any(|(_, n)| *n == 20),
            "a 20-point line"
        );
        assert!(!doc.has_text("no data yet"));
    }

    #[test]
    fn nan_and_infinite_points_leave_gaps_instead_of_failing() {
        let points = [
            (1.0, 0.9),
            (2.0, 0.7),
            (3.0, f64::NAN),
            (4.0, 0.5),
            (5.0, 0.4),
            (f64::INFINITY, 0.3),
            (7.0, f64::NEG_INFINITY),
            (8.0, 0.2),
            (9.0, 0.1),
        ];
        let doc = inspect(&line_chart(&spec(), &[series("loss", &points)]).unwrap());
        assert_eq!(doc.polylines_in(&hex(series_colour(0))), 3);
    }

    #[test]
    fn an_isolated_point_is_drawn_as_a_dot() {
        let points = [(1.0, 0.9), (2.0, f64::NAN), (3.0, 0.5), (4.0, f64::NAN)];
        let doc = inspect(&line_chart(&spec(), &[series("loss", &points)]).unwrap());
        assert_eq!(doc.polylines_in(&hex(series_colour(0))), 0);
        assert_eq!(
            doc.circles
                .iter()
                .filter(|c| **c == hex(series_colour(0)))
                .count(),
            2
        );
    }

    #[test]
    fn no_series_at_all_says_no_data_yet() {
        let doc = inspect(&line_chart(&spec(), &[]).unwrap());
        assert!(doc.has_text("no data yet"));
        assert!(doc.has_text("Training loss"));
    }

    #[test]
    fn empty_and_all_nan_series_say_no_data_yet_and_are_listed_as_such() {
        let data = [
            series("loss", &[]),
            series("val_loss", &[(1.0, f64::NAN), (f64::NAN, 2.0)]),
        ];
        let doc = inspect(&line_chart(&spec(), &data).unwrap());
        assert!(doc.has_text("no data yet"));
        assert!(doc.has_text("loss (no data)"));
        assert!(doc.has_text("val_loss (no data)"));
    }

    #[test]
    fn an_empty_series_beside_a_full_one_is_marked_in_the_legend_only() {
        let data = [series("loss", &ramp(5, |e| e)), series("val_loss", &[])];
        let doc = inspect(&line_chart(&spec(), &data).unwrap());
        assert!(!doc.has_text("no data yet"));
        assert!(doc.has_text("loss"));
        assert!(doc.has_text("val_loss (no data)"));
    }

    #[test]
    fn a_log_scale_skips_zero_and_negative_values() {
        let points = [
            (1.0, 1.0),
            (2.0, 0.1),
            (3.0, 0.0),
            (4.0, 0.01),
            (5.0, -1.0),
            (6.0, 1e-3),
            (7.0, 1e-4),
        ];
        let log_spec = spec().with_y_scale(Scale::Log);
        let doc = inspect(&line_chart(&log_spec, &[series("grad", &points)]).unwrap());
        assert_eq!(doc.polylines_in(&hex(series_colour(0))), 2);
        assert_eq!(
            doc.circles
                .iter()
                .filter(|c| **c == hex(series_colour(0)))
                .count(),
            1
        );
        assert!(
            doc.has_text("1e-4") || doc.has_text("0.001"),
            "decade ticks in {:?}",
            doc.texts
        );
    }

    #[test]
    fn a_log_scale_with_only_zeros_says_why_it_is_empty() {
        let log_spec = spec().with_y_scale(Scale::Log);
        let doc =
            inspect(&line_chart(&log_spec, &[series("grad", &[(1.0, 0.0), (2.0, 0.0)])]).unwrap());
        assert!(doc.has_text("no positive values to show on a log scale"));
    }

    #[test]
    fn huge_and_tiny_values_render_without_panicking() {
        let cases: [&[(f64, f64)]; 6] = [
            &[(1.0, 3.4e38), (2.0, -3.4e38), (3.0, 1.0)],
            &[(1.0, f64::MAX), (2.0, f64::MIN), (3.0, f64::MIN_POSITIVE)],
            &[(-f64::MAX, 1.0), (f64::MAX, 2.0)],
            &[(1.0, 1.0), (2.0, 1.0 + 1e-15), (3.0, 1.0)],
            &[(1.0, 5e-324), (2.0, 1e-310), (3.0, 0.5)],
            &[(1e15, 1.0), (1e15 + 1.0, 2.0)],
        ];
        for points in cases {
            for scale in [Scale::Linear, Scale::Log] {
                let svg =
                    line_chart(&spec().with_y_scale(scale), &[series("loss", points)]).unwrap();
                inspect(&svg);
            }
        }
    }

    #[test]
    fn thirty_series_all_render_in_distinct_colours() {
        let data: Vec<Series> = (0..30)
            .map(|i| series(&format!("run {i}"), &ramp(50, |e| (i as f64 + 1.0) / e)))
            .collect();
        let doc = inspect(&line_chart(&spec(), &data).unwrap());
        for i in 0..30 {
            assert_eq!(doc.polylines_in(&hex(series_colour(i))), 1, "series {i}");
        }
        let shown = (0..30)
            .filter(|i| doc.has_text(&format!("run {i}")))
            .count();
        let more = doc.texts.iter().find(|t| t.starts_with("… and "));
        match more {
            None => assert_eq!(shown, 30),
            Some(text) => assert_eq!(text, &format!("… and {} more", 30 - shown)),
        }
    }

    #[test]
    fn far_more_series_than_the_legend_holds_are_counted_in_its_last_row() {
        let data: Vec<Series> = (0..300)
            .map(|i| series(&format!("series {i}"), &ramp(3, |e| e * i as f64)))
            .collect();
        let doc = inspect(&line_chart(&spec().with_size(400, 300), &data).unwrap());
        assert!(doc.has_text_containing("more"), "{:?}", doc.texts);
        assert_eq!(doc.polylines.iter().filter(|(_, n)| *n == 3).count(), 300);
    }

    #[test]
    fn hostile_names_are_escaped_and_control_characters_dropped() {
        let data = [series("<b>&\"loss'\u{1}\u{0}", &ramp(3, |e| e))];
        let title_spec = ChartSpec::new("a < b & \u{7}c", "x", "y");
        let doc = inspect(&line_chart(&title_spec, &data).unwrap());
        assert!(doc.has_text("<b>&\"loss'"));
        assert_eq!(doc.title.as_deref(), Some("a < b & c"));
    }

    #[test]
    fn sizes_outside_the_limits_are_refused() {
        for (width, height) in [(0, 0), (100, 480), (800, 5000), (u32::MAX, 480)] {
            let result = line_chart(&spec().with_size(width, height), &[]);
            assert_eq!(result, Err(PlotError::Size { width, height }));
        }
        assert!(
            line_chart(
                &spec().with_size(240, 180),
                &[series("loss", &ramp(4, |e| e))]
            )
            .is_ok()
        );
    }

    #[test]
    fn a_long_series_broken_at_every_other_point_stays_a_small_document() {
        let points: Vec<_> = (0..200_000)
            .map(|i| (f64::from(i), if i % 2 == 0 { f64::NAN } else { 1.0 }))
            .collect();
        let svg = line_chart(&spec(), &[series("loss", &points)]).unwrap();
        let doc = inspect(&svg);
        let dots = doc.circles.len();
        assert!((3000..=4 * 800).contains(&dots), "{dots} dots");
    }

    #[test]
    fn a_long_series_is_thinned_to_about_the_chart_width() {
        let points = ramp(100_000, |s| 1.0 / s.sqrt());
        let doc = inspect(&line_chart(&spec(), &[series("loss", &points)]).unwrap());
        let (_, drawn) = doc
            .polylines
            .iter()
            .find(|(c, _)| *c == hex(series_colour(0)))
            .unwrap();
        assert!(*drawn <= 4 * 800, "{drawn} points drawn");
    }
}
