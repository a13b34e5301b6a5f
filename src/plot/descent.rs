//! An optimizer's path over the contour lines of a function of two variables: the picture of
//! `POST /v1/descent?format=svg`.
//!
//! The view is chosen from the path ([`view`]): the bounding box of its points plus a 15 %
//! margin, widened so that one unit is as long on both axes (a gradient step then crosses the
//! contour lines at right angles, as it does on paper). A diverging path would stretch that box
//! until the start is a dot, so points farther than [`MAX_ZOOM_OUT`] times the start's scale
//! from the start are left out of the box; the path is drawn up to the edge of the view, and no
//! further (later jumps of an exploding path would cross the whole picture), and a note says at
//! which step it leaves the view (or turns NaN). The function is sampled on a grid over
//! the view, its contour lines found by marching squares ([`super::contour`]) at quantile-spaced
//! levels and drawn as thin grey lines; the path is a coloured polyline with a dot per step,
//! its start and end labelled.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis;
use super::contour::{self, Grid};
use super::palette::{CONTOUR_GREY, NOTE_GREY};
use super::svg::{MAX_LABEL_CHARS, clean_text, make_accessible};
use super::{PlotError, check_size, render_error};

/// Points farther from the start than this many times the start's scale (the larger of 1 and
/// the start's largest coordinate magnitude) do not widen the view.
pub const MAX_ZOOM_OUT: f64 = 100.0;

/// Points with a coordinate beyond this magnitude never set the view (so that no view
/// computation can overflow); they are drawn like any point outside it.
const MAX_COORDINATE: f64 = 1e300;

/// Margin around the path's bounding box, as a fraction of its larger side.
const MARGIN: f64 = 0.15;

/// Contour levels drawn (fewer when the function is flat over much of the view).
const LEVEL_COUNT: usize = 14;

/// Dots drawn along the path at most; longer paths get a dot every few steps.
const MAX_MARKERS: usize = 200;

/// Okabe–Ito vermillion: the path stands out against the grey contours.
const PATH_COLOUR: RGBColor = RGBColor(0xD5, 0x5E, 0x00);

/// Chart layout in pixels, shared by the plot and the view's aspect computation.
const CHART_MARGIN: u32 = 12;
/// Room right of the plot for the last tick label and a label on a point near the edge.
const CHART_MARGIN_RIGHT: u32 = 28;
const X_LABEL_AREA: u32 = 46;
const Y_LABEL_AREA: u32 = 76;

/// What the descent picture looks like apart from its data.
#[derive(Debug, Clone, PartialEq)]
pub struct DescentSpec {
    /// Shown above the chart and used as the document's accessible name, e.g. the formula.
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub width: u32,
    pub height: u32,
}

impl DescentSpec {
    /// Axes named `x1` and `x2` (the API's variable names), 720×600 pixels.
    pub fn new(title: impl Into<String>) -> Self {
        DescentSpec {
            title: title.into(),
            x_label: "x1".into(),
            y_label: "x2".into(),
            width: 720,
            height: 600,
        }
    }

    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }
}

/// The region drawn and how much of the path it holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub x: (f64, f64),
    pub y: (f64, f64),
    /// The first step whose point lies outside the view, if any (points are steps 0, 1, …).
    pub leaves_at: Option<usize>,
    /// The first step whose point is NaN or infinite, if any.
    pub non_finite_at: Option<usize>,
}

/// Chooses the view for `path` on a plot of `plot_pixels` (width, height), as the module
/// documentation describes. With no usable point the view is `[-1, 1]²`-shaped around 0.
pub fn view(path: &[(f64, f64)], plot_pixels: (u32, u32)) -> View {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let usable =
        |p: &(f64, f64)| finite(p) && p.0.abs() <= MAX_COORDINATE && p.1.abs() <= MAX_COORDINATE;
    let non_finite_at = path.iter().position(|p| !finite(p));
    let (centre, half_x, half_y) = match path.iter().find(|p| usable(p)) {
        None => ((0.0, 0.0), 1.0, 1.0),
        Some(&start) => {
            let scale = 1f64.max(start.0.abs()).max(start.1.abs());
            let reach = MAX_ZOOM_OUT * scale;
            let kept = path.iter().filter(|p| {
                usable(p) && (p.0 - start.0).abs() <= reach && (p.1 - start.1).abs() <= reach
            });
            let (x_min, x_max) =
                axis::extent(kept.clone().map(|p| p.0)).unwrap_or((start.0, start.0));
            let (y_min, y_max) = axis::extent(kept.map(|p| p.1)).unwrap_or((start.1, start.1));
            let extent = (x_max - x_min).max(y_max - y_min);
            // A path that (nearly) stands still gets a view sized by its start instead.
            let pad = if extent > 1e-9 * scale {
                MARGIN * extent
            } else {
                0.5 * scale
            };
            let centre = (x_min / 2.0 + x_max / 2.0, y_min / 2.0 + y_max / 2.0);
            (
                centre,
                (x_max - x_min) / 2.0 + pad,
                (y_max - y_min) / 2.0 + pad,
            )
        }
    };
    // One unit is as many pixels on both axes: widen whichever side is short.
    let (width_px, height_px) = (
        f64::from(plot_pixels.0.max(1)),
        f64::from(plot_pixels.1.max(1)),
    );
    let units_per_pixel = (2.0 * half_x / width_px).max(2.0 * half_y / height_px);
    let (half_x, half_y) = (
        units_per_pixel * width_px / 2.0,
        units_per_pixel * height_px / 2.0,
    );
    let x = (centre.0 - half_x, centre.0 + half_x);
    let y = (centre.1 - half_y, centre.1 + half_y);
    let inside = |p: &(f64, f64)| x.0 <= p.0 && p.0 <= x.1 && y.0 <= p.1 && p.1 <= y.1;
    let leaves_at = path.iter().position(|p| finite(p) && !inside(p));
    View {
        x,
        y,
        leaves_at,
        non_finite_at,
    }
}

/// Draws the contour lines of `f` and the path `path` (the optimizer's points, step 0 first).
///
/// `f` is evaluated on a grid of at most 160 × 160 points over the view; NaN or infinite values
/// just leave holes in the contours. Errors only for a size outside
/// [`super::MIN_SIZE`]..=[`super::MAX_SIZE`].
pub fn descent_contour(
    f: &dyn Fn(f64, f64) -> f64,
    path: &[(f64, f64)],
    spec: &DescentSpec,
) -> Result<String, PlotError> {
    check_size(spec.width, spec.height)?;
    let title = clean_text(&spec.title, MAX_LABEL_CHARS);
    let x_label = clean_text(&spec.x_label, MAX_LABEL_CHARS);
    let y_label = clean_text(&spec.y_label, MAX_LABEL_CHARS);

    let mut document = String::new();
    let description;
    {
        let root =
            SVGBackend::with_string(&mut document, (spec.width, spec.height)).into_drawing_area();
        root.fill(&WHITE).map_err(render_error)?;
        let body = root
            .titled(&title, ("sans-serif", 22).into_font().color(&BLACK))
            .map_err(render_error)?;
        let (body_width, body_height) = body.dim_in_pixel();
        let plot_pixels = (
            body_width
                .saturating_sub(CHART_MARGIN + CHART_MARGIN_RIGHT + Y_LABEL_AREA)
                .max(1),
            body_height
                .saturating_sub(2 * CHART_MARGIN + X_LABEL_AREA)
                .max(1),
        );
        let view = view(path, plot_pixels);
        let grid = Grid::sample(
            f,
            view.x,
            view.y,
            (plot_pixels.0 / 5).clamp(20, 160) as usize,
            (plot_pixels.1 / 5).clamp(20, 160) as usize,
        );
        let levels = contour::levels(&grid, LEVEL_COUNT);
        let contours: Vec<Vec<(f64, f64)>> = levels
            .iter()
            .flat_map(|&l| contour::contour_lines(&grid, l))
            .collect();
        let picture = Picture {
            view: &view,
            x_label: &x_label,
            y_label: &y_label,
            line: visible_line(path, &view),
            drawn: drawn_steps(path, &view),
            notes: notes(path, &view, levels.is_empty()),
            contours,
            path,
        };
        picture.draw(&body)?;
        root.present().map_err(render_error)?;
        description = describe(path, &view, levels.len(), &picture.notes);
    }
    Ok(make_accessible(&document, &title, &description))
}

/// The steps drawn: those before the path first leaves the view or turns NaN. Drawing stops
/// there because after an explosion every further jump would cross the picture and hide it.
fn drawn_steps(path: &[(f64, f64)], view: &View) -> usize {
    let stop = match (view.leaves_at, view.non_finite_at) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(path.len()),
    };
    stop.min(path.len())
}

/// The drawn part of the path as one polyline: the steps before it leaves the view, then the
/// leaving segment clipped at the view's edge. Empty when fewer than two points would show.
fn visible_line(path: &[(f64, f64)], view: &View) -> Vec<(f64, f64)> {
    let drawn = drawn_steps(path, view);
    let mut line = path[..drawn].to_vec();
    if view.leaves_at == Some(drawn) && drawn > 0 {
        // Clamping keeps `b - a` finite; it moves only points no view could show anyway.
        let clamp = |p: (f64, f64)| {
            (
                p.0.clamp(-MAX_COORDINATE, MAX_COORDINATE),
                p.1.clamp(-MAX_COORDINATE, MAX_COORDINATE),
            )
        };
        if let Some((_, edge)) = clip(clamp(path[drawn - 1]), clamp(path[drawn]), view) {
            line.push(edge);
        }
    }
    if line.len() < 2 { Vec::new() } else { line }
}

/// Liang–Barsky clipping of segment `a → b` to the view: the ends of its visible part, or
/// `None` when no part is visible.
fn clip(a: (f64, f64), b: (f64, f64), view: &View) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t_enter, mut t_exit) = (0.0f64, 1.0f64);
    let bounds = [
        (-dx, a.0 - view.x.0),
        (dx, view.x.1 - a.0),
        (-dy, a.1 - view.y.0),
        (dy, view.y.1 - a.1),
    ];
    for (direction, room) in bounds {
        if direction == 0.0 {
            if room < 0.0 {
                return None;
            }
            continue;
        }
        let t = room / direction;
        if direction < 0.0 {
            if t > t_exit {
                return None;
            }
            t_enter = t_enter.max(t);
        } else {
            if t < t_enter {
                return None;
            }
            t_exit = t_exit.min(t);
        }
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    Some((at(t_enter), at(t_exit)))
}

/// Sentences shown in the plot's corner about what the picture leaves out.
fn notes(path: &[(f64, f64)], view: &View, no_levels: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if path.is_empty() {
        notes.push("no path to draw".to_string());
    }
    match (view.leaves_at, view.non_finite_at) {
        (Some(out), Some(bad)) if out < bad => {
            notes.push(format!("the path leaves the view at step {out}"))
        }
        (_, Some(bad)) => notes.push(format!("the path is NaN or infinite from step {bad}")),
        (Some(out), None) => notes.push(format!("the path leaves the view at step {out}")),
        _ => {}
    }
    if no_levels {
        notes.push("no contour lines: the function is flat or undefined here".to_string());
    }
    notes
}

/// Steps that get a dot: every one, or every k-th (and the last) for long paths.
fn marker_steps(path_len: usize) -> impl Iterator<Item = usize> {
    let stride = path_len.div_ceil(MAX_MARKERS).max(1);
    (0..path_len).filter(move |step| step.is_multiple_of(stride) || step + 1 == path_len)
}

/// Everything one descent picture shows, in view coordinates.
struct Picture<'a> {
    view: &'a View,
    x_label: &'a str,
    y_label: &'a str,
    contours: Vec<Vec<(f64, f64)>>,
    /// The path's polyline (see [`visible_line`]).
    line: Vec<(f64, f64)>,
    path: &'a [(f64, f64)],
    /// Steps `0..drawn` are drawn (see [`drawn_steps`]).
    drawn: usize,
    notes: Vec<String>,
}

impl Picture<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let Picture {
            view,
            x_label,
            y_label,
            contours,
            line,
            path,
            drawn,
            notes,
        } = self;
        let drawn = *drawn;
        let (x_span, y_span) = (view.x.1 - view.x.0, view.y.1 - view.y.0);
        let x_tick_label = move |v: &f64| axis::linear_tick_label(*v, x_span);
        let y_tick_label = move |v: &f64| axis::linear_tick_label(*v, y_span);
        let mut chart = ChartBuilder::on(area)
            .margin(CHART_MARGIN)
            .margin_right(CHART_MARGIN_RIGHT)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                RangedCoordf64::from(view.x.0..view.x.1),
                RangedCoordf64::from(view.y.0..view.y.1),
            )
            .map_err(render_error)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(*x_label)
            .y_desc(*y_label)
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&x_tick_label)
            .y_label_formatter(&y_tick_label)
            .label_style(("sans-serif", 13).into_font().color(&BLACK))
            .axis_desc_style(("sans-serif", 15).into_font().color(&BLACK))
            .axis_style(RGBColor(0x44, 0x44, 0x44))
            .draw()
            .map_err(render_error)?;

        let contour_style = ShapeStyle {
            color: CONTOUR_GREY.to_rgba(),
            filled: false,
            stroke_width: 1,
        };
        for line in contours {
            chart
                .draw_series(LineSeries::new(line.iter().copied(), contour_style))
                .map_err(render_error)?;
        }
        let path_style = ShapeStyle {
            color: PATH_COLOUR.to_rgba(),
            filled: false,
            stroke_width: 2,
        };
        if !line.is_empty() {
            chart
                .draw_series(LineSeries::new(line.iter().copied(), path_style))
                .map_err(render_error)?;
        }
        let dots = marker_steps(drawn).map(|step| path[step]);
        chart
            .draw_series(dots.map(|p| Circle::new(p, 3, PATH_COLOUR.filled())))
            .map_err(render_error)?;

        let label_style = ("sans-serif", 14).into_font().color(&BLACK);
        let last_step = path.len().saturating_sub(1);
        let mut labels = Vec::new();
        if drawn > 0 {
            let start_text = if last_step == 0 {
                "start = end"
            } else {
                "start"
            };
            labels.push((path[0], start_text.to_string()));
            chart
                .draw_series(std::iter::once(Circle::new(
                    path[0],
                    6,
                    PATH_COLOUR.stroke_width(2),
                )))
                .map_err(render_error)?;
        }
        if drawn == path.len() && last_step > 0 {
            labels.push((path[last_step], format!("end (step {last_step})")));
            chart
                .draw_series(std::iter::once(Circle::new(
                    path[last_step],
                    6,
                    BLACK.stroke_width(2),
                )))
                .map_err(render_error)?;
        }
        for (point, text) in labels {
            // Labels on the right part of the view go to the left of their point, so they
            // stay inside the picture.
            let near_right_edge = (point.0 - view.x.0) > 0.7 * (view.x.1 - view.x.0);
            let (offset, anchor) = if near_right_edge {
                (-8, HPos::Right)
            } else {
                (8, HPos::Left)
            };
            let style = label_style.pos(Pos::new(anchor, VPos::Bottom));
            let label = EmptyElement::at(point) + Text::new(text, (offset, -6), style);
            chart.plotting_area().draw(&label).map_err(render_error)?;
        }

        let plotting = chart.plotting_area().strip_coord_spec();
        let note_style = ("sans-serif", 13)
            .into_font()
            .color(&NOTE_GREY)
            .pos(Pos::new(HPos::Left, VPos::Top));
        for (note_idx, note) in notes.iter().enumerate() {
            let y = 6 + 18 * note_idx as i32;
            let width = (note.chars().count() as i32) * 7 + 8;
            plotting
                .draw(&Rectangle::new(
                    [(4, y - 2), (4 + width, y + 16)],
                    WHITE.mix(0.85).filled(),
                ))
                .map_err(render_error)?;
            plotting
                .draw(&Text::new(note.clone(), (8, y), note_style.clone()))
                .map_err(render_error)?;
        }
        Ok(())
    }
}

/// The text of the document's `<desc>`.
fn describe(path: &[(f64, f64)], view: &View, level_count: usize, notes: &[String]) -> String {
    let span = (view.x.1 - view.x.0).max(view.y.1 - view.y.0);
    let point = |p: &(f64, f64)| {
        format!(
            "({}, {})",
            axis::linear_tick_label(p.0, span / 10.0),
            axis::linear_tick_label(p.1, span / 10.0)
        )
    };
    let mut description = format!("{level_count} contour lines of the function");
    match (path.first(), path.last()) {
        (Some(start), Some(end)) if path.len() > 1 => description.push_str(&format!(
            " and the descent path of {} steps from {} to {}.",
            path.len() - 1,
            point(start),
            point(end)
        )),
        (Some(start), _) => {
            description.push_str(&format!(" and the start point {}.", point(start)))
        }
        _ => description.push('.'),
    }
    for note in notes {
        description.push_str(&format!(" Note: {note}."));
    }
    description
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::inspect::inspect;
    use crate::plot::palette::hex;

    /// The lecture's quadratic, f(x1, x2) = x1² + 2·x2² − x1·x2 (API.md "Descent on a formula").
    fn quadratic(x1: f64, x2: f64) -> f64 {
        x1 * x1 + 2.0 * x2 * x2 - x1 * x2
    }

    /// Plain gradient descent on [`quadratic`] from [-5, 4]: ∇f = (2·x1 − x2, 4·x2 − x1).
    fn descend(learning_rate: f64, steps: usize) -> Vec<(f64, f64)> {
        let mut point = (-5.0, 4.0);
        let mut path = vec![point];
        for _ in 0..steps {
            let gradient = (2.0 * point.0 - point.1, 4.0 * point.1 - point.0);
            point = (
                point.0 - learning_rate * gradient.0,
                point.1 - learning_rate * gradient.1,
            );
            path.push(point);
        }
        path
    }

    #[test]
    fn the_descent_helper_reproduces_the_api_example() {
        // API.md: with learning rate 0.1, point 30 is x ≈ [−0.016062, −0.006653].
        let end = descend(0.1, 30)[30];
        assert!(
            (end.0 + 0.016062).abs() < 1e-6 && (end.1 + 0.006653).abs() < 1e-6,
            "{end:?}"
        );
    }

    #[test]
    fn a_converging_path_is_drawn_whole_over_grey_contours() {
        let path = descend(0.1, 30);
        let svg = descent_contour(
            &quadratic,
            &path,
            &DescentSpec::new("x1^2 + 2*x2^2 - x1*x2"),
        )
        .unwrap();
        let doc = inspect(&svg);
        assert_eq!(doc.root_role.as_deref(), Some("img"));
        assert_eq!(doc.title.as_deref(), Some("x1^2 + 2*x2^2 - x1*x2"));
        assert!(
            doc.polylines_in(&hex(CONTOUR_GREY)) >= 10,
            "{} contour lines",
            doc.polylines_in(&hex(CONTOUR_GREY))
        );
        let path_lines: Vec<_> = doc
            .polylines
            .iter()
            .filter(|(c, _)| *c == hex(PATH_COLOUR))
            .collect();
        assert_eq!(path_lines.len(), 1);
        assert!(
            path_lines[0].1 >= 20,
            "the path polyline has {} points",
            path_lines[0].1
        );
        assert_eq!(
            doc.circles
                .iter()
                .filter(|c| **c == hex(PATH_COLOUR))
                .count(),
            31,
            "a dot per point"
        );
        for text in ["start", "end (step 30)", "x1", "x2"] {
            assert!(doc.has_text(text), "missing {text:?} in {:?}", doc.texts);
        }
        assert!(!doc.has_text_containing("leaves the view"));
    }

    #[test]
    fn the_view_holds_the_path_with_a_margin_and_equal_units() {
        let path = descend(0.1, 30);
        let view = view(&path, (600, 400));
        assert!(
            view.x.0 < -5.0 && view.x.1 > 0.0 && view.y.0 < -0.2 && view.y.1 > 4.0,
            "{view:?}"
        );
        let units_x = (view.x.1 - view.x.0) / 600.0;
        let units_y = (view.y.1 - view.y.0) / 400.0;
        assert!((units_x - units_y).abs() < 1e-12 * units_x);
        assert_eq!(view.leaves_at, None);
        assert_eq!(view.non_finite_at, None);
    }

    #[test]
    fn a_slowly_diverging_path_keeps_most_of_its_steps_in_view() {
        // Learning rate 0.5: the step multiplies the steep direction by 1 − 0.5·(3 + √2) ≈ −1.2.
        let path = descend(0.5, 30);
        let far = path[30].0.abs().max(path[30].1.abs());
        assert!(far > 100.0, "diverges: {far}");
        let view = view(&path, (500, 500));
        let leaves_at = view.leaves_at.unwrap_or(31);
        assert!(leaves_at > 20, "leaves the view at step {leaves_at}");
        let svg = descent_contour(&quadratic, &path, &DescentSpec::new("lr 0.5")).unwrap();
        let doc = inspect(&svg);
        assert_eq!(doc.polylines_in(&hex(PATH_COLOUR)), 1);
        let dots = doc
            .circles
            .iter()
            .filter(|c| **c == hex(PATH_COLOUR))
            .count();
        assert_eq!(dots, leaves_at, "a dot per step shown");
    }

    #[test]
    fn an_exploding_path_is_cut_at_the_view_edge_with_a_note() {
        // Learning rate 3: each step multiplies the distance by about 12.
        let path = descend(3.0, 30);
        let view = view(&path, (500, 500));
        // The view stays within MAX_ZOOM_OUT times the start's scale (5) of the start.
        assert!(
            view.x.1 - view.x.0 < 2.0 * 1.3 * MAX_ZOOM_OUT * 5.0,
            "{view:?}"
        );
        let leaves_at = view.leaves_at.expect("some step leaves the view");
        assert!((2..6).contains(&leaves_at), "leaves at step {leaves_at}");
        let svg = descent_contour(&quadratic, &path, &DescentSpec::new("lr 3")).unwrap();
        let doc = inspect(&svg);
        assert!(
            doc.has_text(&format!("the path leaves the view at step {leaves_at}")),
            "{:?}",
            doc.texts
        );
        assert!(doc.has_text("start"));
        assert!(
            !doc.has_text_containing("end (step"),
            "the end is far outside"
        );
        assert_eq!(
            doc.polylines_in(&hex(PATH_COLOUR)),
            1,
            "drawn up to the edge"
        );
    }

    #[test]
    fn a_path_that_turns_nan_stops_there_with_a_note() {
        let mut path = descend(0.1, 10);
        path.extend([(f64::NAN, 1.0), (f64::INFINITY, f64::NEG_INFINITY)]);
        let doc = inspect(&descent_contour(&quadratic, &path, &DescentSpec::new("nan")).unwrap());
        assert!(
            doc.has_text("the path is NaN or infinite from step 11"),
            "{:?}",
            doc.texts
        );
        assert_eq!(doc.polylines_in(&hex(PATH_COLOUR)), 1);
    }

    #[test]
    fn degenerate_inputs_still_draw_a_picture() {
        let single = [(2.0, -1.0)];
        let doc =
            inspect(&descent_contour(&quadratic, &single, &DescentSpec::new("one point")).unwrap());
        assert!(doc.has_text("start = end"));
        assert!(doc.polylines_in(&hex(CONTOUR_GREY)) > 0);

        let doc = inspect(&descent_contour(&quadratic, &[], &DescentSpec::new("empty")).unwrap());
        assert!(doc.has_text("no path to draw"));

        let flat = |_: f64, _: f64| 1.0;
        let doc =
            inspect(&descent_contour(&flat, &descend(0.1, 5), &DescentSpec::new("flat")).unwrap());
        assert!(doc.has_text_containing("no contour lines"));

        let undefined = |x: f64, y: f64| (x * y).ln();
        inspect(&descent_contour(&undefined, &descend(0.1, 5), &DescentSpec::new("log")).unwrap());

        let all_nan = [(f64::NAN, f64::NAN), (f64::INFINITY, 0.0)];
        inspect(&descent_contour(&quadratic, &all_nan, &DescentSpec::new("nan")).unwrap());

        let huge = [(1e300, -1e300), (f64::MAX, 0.0), (0.0, 0.0)];
        inspect(&descent_contour(&quadratic, &huge, &DescentSpec::new("huge")).unwrap());

        let tiny = [(1e-300, 1e-300), (2e-300, 1e-300)];
        inspect(&descent_contour(&quadratic, &tiny, &DescentSpec::new("tiny")).unwrap());
    }

    #[test]
    fn a_long_path_gets_at_most_a_couple_of_hundred_dots() {
        let path = descend(0.01, 5000);
        let doc = inspect(&descent_contour(&quadratic, &path, &DescentSpec::new("long")).unwrap());
        let dots = doc
            .circles
            .iter()
            .filter(|c| **c == hex(PATH_COLOUR))
            .count();
        assert!((150..=MAX_MARKERS + 1).contains(&dots), "{dots} dots");
    }

    #[test]
    fn clipping_keeps_the_inside_part_of_a_segment() {
        let view = View {
            x: (0.0, 1.0),
            y: (0.0, 1.0),
            leaves_at: None,
            non_finite_at: None,
        };
        assert_eq!(
            clip((0.5, 0.5), (1.5, 0.5), &view),
            Some(((0.5, 0.5), (1.0, 0.5)))
        );
        assert_eq!(
            clip((-1.0, 0.5), (2.0, 0.5), &view),
            Some(((0.0, 0.5), (1.0, 0.5)))
        );
        assert_eq!(clip((2.0, 2.0), (3.0, 3.0), &view), None);
        assert_eq!(
            clip((0.25, 0.25), (0.75, 0.875), &view),
            Some(((0.25, 0.25), (0.75, 0.875)))
        );
    }

    #[test]
    fn sizes_outside_the_limits_are_refused() {
        let result = descent_contour(
            &quadratic,
            &[(0.0, 0.0)],
            &DescentSpec::new("t").with_size(10, 10),
        );
        assert_eq!(
            result,
            Err(PlotError::Size {
                width: 10,
                height: 10
            })
        );
    }
}
