//! Server-side SVG charts, as pure functions from plain data to a `String` holding an SVG
//! document. Nothing here reads the store or knows HTTP: the service reads epoch records, maps
//! them to [`EpochPoint`]s and [`StepPoint`]s, calls a builder in [`job`] (or [`line_chart`] with
//! its own [`Series`]), and serves the string as `image/svg+xml`.
//!
//! Charts are drawn with `plotters`' SVG backend and its "naive" font path: text is emitted as
//! `<text font-family="sans-serif">` and the browser draws the glyphs, so the server needs no
//! fonts. Every document carries `role="img"`, an `aria-label` and a `<title>` naming the chart
//! (see [`svg`]). Bad numbers never fail a chart: NaN and infinite points are left out (a gap
//! in the line), and a chart with nothing to draw says so ("no data yet").
//!
//! Files: [`line`] renders line charts with a legend, [`axis`] turns data into axis ranges and
//! tick labels, [`palette`] picks series colours, [`decimate`] thins very long series, [`job`]
//! builds the per-job charts, [`contour`] is marching squares and [`descent`] draws an
//! optimizer's path over the contour lines of a two-variable function.

pub mod axis;
pub mod contour;
pub mod decimate;
pub mod descent;
pub mod job;
pub mod line;
pub mod palette;
pub mod svg;

#[cfg(test)]
mod inspect;

pub use descent::{DescentSpec, descent_contour};
pub use job::{EpochPoint, StepPoint};
pub use line::line_chart;

/// Smallest and largest accepted chart sizes in pixels (width, height). Below the minimum the
/// axes, labels and legend no longer fit; above the maximum a request could ask for absurdly
/// large documents.
pub const MIN_SIZE: (u32, u32) = (240, 180);
pub const MAX_SIZE: (u32, u32) = (4000, 4000);

/// The default chart size in pixels (width, height).
pub const DEFAULT_SIZE: (u32, u32) = (800, 480);

/// Why a chart could not be drawn. Bad data is never an error (it is skipped or reported in the
/// picture); only a bad request for the picture itself is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlotError {
    #[error(
        "chart size {width}x{height} is outside {}x{} to {}x{} pixels",
        MIN_SIZE.0, MIN_SIZE.1, MAX_SIZE.0, MAX_SIZE.1
    )]
    Size { width: u32, height: u32 },
    /// The drawing library reported an error; with an in-memory SVG target this means a bug.
    #[error("the chart could not be drawn: {0}")]
    Render(String),
}

/// One named line: `(x, y)` points in drawing order. Non-finite points (and, on a log scale,
/// non-positive `y`) are skipped and leave a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// How the y axis maps values to height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Linear,
    /// Base-10 logarithmic; values ≤ 0 cannot be placed and are skipped.
    Log,
}

/// What a line chart looks like apart from its data.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    /// Shown above the chart and used as the document's accessible name.
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y_scale: Scale,
    /// Size in pixels, within [`MIN_SIZE`]..=[`MAX_SIZE`].
    pub width: u32,
    pub height: u32,
}

impl ChartSpec {
    /// A linear chart of the default size.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        ChartSpec {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            y_scale: Scale::Linear,
            width: DEFAULT_SIZE.0,
            height: DEFAULT_SIZE.1,
        }
    }

    pub fn with_y_scale(mut self, y_scale: Scale) -> Self {
        self.y_scale = y_scale;
        self
    }

    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }
}

/// A chart spec with its series, as the builders in [`job`] return it, so the caller can still
/// change the size or scale before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub spec: ChartSpec,
    pub series: Vec<Series>,
}

impl LineChart {
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.spec = self.spec.with_size(width, height);
        self
    }

    pub fn with_y_scale(mut self, y_scale: Scale) -> Self {
        self.spec = self.spec.with_y_scale(y_scale);
        self
    }

    /// The SVG document; see [`line_chart`].
    pub fn render(&self) -> Result<String, PlotError> {
        line_chart(&self.spec, &self.series)
    }
}

/// Checks a requested size against [`MIN_SIZE`] and [`MAX_SIZE`].
pub(crate) fn check_size(width: u32, height: u32) -> Result<(), PlotError> {
    let fits =
        (MIN_SIZE.0..=MAX_SIZE.0).contains(&width) && (MIN_SIZE.1..=MAX_SIZE.1).contains(&height);
    if fits {
        Ok(())
    } else {
        Err(PlotError::Size { width, height })
    }
}

/// Maps any `plotters` drawing error to [`PlotError::Render`].
pub(crate) fn render_error(error: impl std::fmt::Display) -> PlotError {
    PlotError::Render(error.to_string())
}
