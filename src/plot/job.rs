//! The per-job charts of API.md "Plots and sweeps": `loss`, a metric by name, `learning_rate`,
//! `gradients`, `steps`, and `compare` for one metric of several jobs. Each builder takes epoch
//! records in the plain shape [`EpochPoint`] (or [`StepPoint`]), which the service fills from
//! the store or from [`crate::train::EpochRecord`]s, and returns a [`LineChart`] to render.
//!
//! Charts are titled "What — job label" (just "What" when the label is empty); the x axis is
//! the epoch (the step for `steps`), numbered as the records number it.

use super::{ChartSpec, LineChart, Scale, Series};
use crate::train::{EpochRecord, StepRecord};

/// One epoch's numbers as the charts need them (API.md "epoch record").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpochPoint {
    /// Counted from 1.
    pub epoch: usize,
    pub loss: f64,
    pub val_loss: Option<f64>,
    /// Training metrics by Keras name (`accuracy`…).
    pub metrics: Vec<(String, f64)>,
    /// Validation metrics, named without the `val_` prefix.
    pub val_metrics: Vec<(String, f64)>,
    pub learning_rate: f64,
    /// Per kernel-carrying layer, input side first: the mean over the epoch's steps of the L2
    /// norm of the layer's kernel gradient (`layers[].grad_norm`).
    pub layer_grad_norms: Vec<f64>,
}

impl EpochPoint {
    /// The value called `name` in API.md's epoch record: `loss`, `val_loss`, `learning_rate`,
    /// a training metric (`accuracy`), or `val_` and a validation metric (`val_accuracy`).
    pub fn value(&self, name: &str) -> Option<f64> {
        let find = |list: &[(String, f64)], wanted: &str| {
            list.iter()
                .find(|(metric, _)| metric == wanted)
                .map(|(_, v)| *v)
        };
        match name {
            "loss" => Some(self.loss),
            "val_loss" => self.val_loss,
            "learning_rate" => Some(self.learning_rate),
            _ => find(&self.metrics, name).or_else(|| {
                name.strip_prefix("val_")
                    .and_then(|base| find(&self.val_metrics, base))
            }),
        }
    }
}

impl From<&EpochRecord> for EpochPoint {
    fn from(record: &EpochRecord) -> Self {
        let widen = |list: &[(String, f32)]| {
            list.iter()
                .map(|(n, v)| (n.clone(), f64::from(*v)))
                .collect()
        };
        // Placed by `LayerStats::index`, so a record listing layers out of order still draws
        // each layer's line from its own numbers.
        let layer_count = record.layers.iter().map(|l| l.index + 1).max().unwrap_or(0);
        let mut layer_grad_norms = vec![f64::NAN; layer_count];
        for layer in &record.layers {
            layer_grad_norms[layer.index] = f64::from(layer.grad_norm);
        }
        EpochPoint {
            epoch: record.epoch,
            loss: f64::from(record.loss),
            val_loss: record.val_loss.map(f64::from),
            metrics: widen(&record.metrics),
            val_metrics: widen(&record.val_metrics),
            learning_rate: f64::from(record.learning_rate),
            layer_grad_norms,
        }
    }
}

/// One per-step loss sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPoint {
    /// Optimizer steps so far.
    pub step: u64,
    /// The batch loss before this step's update.
    pub loss: f64,
}

impl From<&StepRecord> for StepPoint {
    fn from(record: &StepRecord) -> Self {
        StepPoint {
            step: record.step,
            loss: f64::from(record.loss),
        }
    }
}

/// `loss` and, when any epoch has one, `val_loss`, against the epoch.
pub fn loss(job_label: &str, epochs: &[EpochPoint]) -> LineChart {
    metric(job_label, "loss", epochs)
}

/// The metric `name` and, when any epoch has it, `val_{name}`, against the epoch. A name that
/// already starts with `val_` gives that one series; `loss` gives the loss chart.
pub fn metric(job_label: &str, name: &str, epochs: &[EpochPoint]) -> LineChart {
    let mut series = vec![series_of(name, name, epochs)];
    if !name.starts_with("val_") {
        let val_name = format!("val_{name}");
        let val_series = series_of(&val_name, &val_name, epochs);
        if !val_series.points.is_empty() {
            series.push(val_series);
        }
    }
    let what = if name == "loss" {
        "Loss".to_string()
    } else {
        name.to_string()
    };
    LineChart {
        spec: ChartSpec::new(title(&what, job_label), "epoch", name),
        series,
    }
}

/// The learning rate the optimizer held at the end of each epoch.
pub fn learning_rate(job_label: &str, epochs: &[EpochPoint]) -> LineChart {
    LineChart {
        spec: ChartSpec::new(title("Learning rate", job_label), "epoch", "learning rate"),
        series: vec![series_of("learning_rate", "learning_rate", epochs)],
    }
}

/// One line per kernel-carrying layer of its mean kernel-gradient L2 norm, on a log scale: the
/// picture of vanishing gradients (input-side lines orders of magnitude below output-side ones)
/// and of exploding ones. Layers are named "layer 0 (input side)" … "layer N (output side)".
pub fn gradients(job_label: &str, epochs: &[EpochPoint]) -> LineChart {
    let layer_count = epochs
        .iter()
        .map(|e| e.layer_grad_norms.len())
        .max()
        .unwrap_or(0);
    let series = (0..layer_count)
        .map(|layer_idx| Series {
            name: layer_name(layer_idx, layer_count),
            points: epochs
                .iter()
                .filter_map(|e| {
                    e.layer_grad_norms
                        .get(layer_idx)
                        .map(|norm| (e.epoch as f64, *norm))
                })
                .collect(),
        })
        .collect();
    LineChart {
        spec: ChartSpec::new(
            title("Gradient norm per layer", job_label),
            "epoch",
            "mean kernel-gradient L2 norm",
        )
        .with_y_scale(Scale::Log),
        series,
    }
}

/// The batch loss at each recorded step.
pub fn steps(job_label: &str, steps: &[StepPoint]) -> LineChart {
    LineChart {
        spec: ChartSpec::new(title("Loss per step", job_label), "step", "batch loss"),
        series: vec![Series {
            name: "loss".to_string(),
            points: steps.iter().map(|s| (s.step as f64, s.loss)).collect(),
        }],
    }
}

/// The metric `name` of several runs overlaid, one line per run in the given order, each
/// labelled with the caller's label (a job's name or id, a sweep's overrides…).
pub fn compare<L, E>(name: &str, runs: &[(L, E)]) -> LineChart
where
    L: AsRef<str>,
    E: AsRef<[EpochPoint]>,
{
    LineChart {
        spec: ChartSpec::new(format!("{name} by run"), "epoch", name),
        series: runs
            .iter()
            .map(|(label, epochs)| series_of(label.as_ref(), name, epochs.as_ref()))
            .collect(),
    }
}

/// The values called `field` (see [`EpochPoint::value`]) against the epoch, as series `name`.
fn series_of(name: &str, field: &str, epochs: &[EpochPoint]) -> Series {
    Series {
        name: name.to_string(),
        points: epochs
            .iter()
            .filter_map(|e| e.value(field).map(|v| (e.epoch as f64, v)))
            .collect(),
    }
}

/// "layer 0 (input side)", "layer 1", …, "layer N-1 (output side)".
fn layer_name(layer_idx: usize, layer_count: usize) -> String {
    match (layer_idx, layer_count) {
        (0, 1) => "layer 0 (input and output)".to_string(),
        (0, _) => "layer 0 (input side)".to_string(),
        (i, n) if i + 1 == n => format!("layer {i} (output side)"),
        (i, _) => format!("layer {i}"),
    }
}

fn title(what: &str, job_label: &str) -> String {
    if job_label.trim().is_empty() {
        what.to_string()
    } else {
        format!("{what} — {job_label}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::inspect::inspect;
    use crate::plot::palette::{hex, series_colour};
    use crate::train::LayerStats;

    /// Twelve epochs of a three-layer classifier with validation: losses fall, accuracy rises,
    /// the learning rate halves every four epochs, and gradients shrink tenfold per layer
    /// towards the input (vanishing gradients).
    fn history() -> Vec<EpochPoint> {
        (1..=12)
            .map(|epoch| {
                let e = epoch as f64;
                EpochPoint {
                    epoch,
                    loss: 1.0 / e,
                    val_loss: Some(1.25 / e),
                    metrics: vec![("accuracy".to_string(), 1.0 - 0.5 / e)],
                    val_metrics: vec![("accuracy".to_string(), 0.875 - 0.5 / e)],
                    learning_rate: 0.1 * 0.5f64.powi((epoch as i32 - 1) / 4),
                    layer_grad_norms: vec![1e-4 / e, 1e-3 / e, 1e-2 / e],
                }
            })
            .collect()
    }

    #[test]
    fn values_are_found_by_their_api_names() {
        let point = &history()[1];
        assert_eq!(point.value("loss"), Some(0.5));
        assert_eq!(point.value("val_loss"), Some(0.625));
        assert_eq!(point.value("accuracy"), Some(0.75));
        assert_eq!(point.value("val_accuracy"), Some(0.625));
        assert_eq!(point.value("learning_rate"), Some(0.1));
        assert_eq!(point.value("precision"), None);
        assert_eq!(point.value("val_precision"), None);
    }

    #[test]
    fn an_epoch_record_becomes_an_epoch_point_with_layers_in_index_order() {
        let layer = |index: usize, grad_norm: f32| LayerStats {
            index,
            name: format!("layers.{index}"),
            grad_norm,
            weight_norm: 1.0,
            update_ratio: 0.01,
        };
        let record = EpochRecord {
            epoch: 3,
            step: 21,
            loss: 0.5,
            metrics: vec![("accuracy".to_string(), 0.75)],
            val_loss: Some(0.25),
            val_metrics: vec![("accuracy".to_string(), 0.5)],
            learning_rate: 0.125,
            layers: vec![layer(1, 0.5), layer(0, 0.25)],
        };
        let point = EpochPoint::from(&record);
        assert_eq!(
            point,
            EpochPoint {
                epoch: 3,
                loss: 0.5,
                val_loss: Some(0.25),
                metrics: vec![("accuracy".to_string(), 0.75)],
                val_metrics: vec![("accuracy".to_string(), 0.5)],
                learning_rate: 0.125,
                layer_grad_norms: vec![0.25, 0.5],
            }
        );
        let step = StepRecord {
            epoch: 3,
            step: 20,
            loss: 0.75,
            learning_rate: 0.125,
        };
        assert_eq!(
            StepPoint::from(&step),
            StepPoint {
                step: 20,
                loss: 0.75
            }
        );
    }

    #[test]
    fn the_loss_chart_has_loss_and_val_loss_against_the_epoch() {
        let chart = loss("iris-mlp", &history());
        assert_eq!(chart.spec.title, "Loss — iris-mlp");
        let names: Vec<_> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["loss", "val_loss"]);
        assert_eq!(chart.series[0].points[3], (4.0, 0.25));
        let doc = inspect(&chart.render().unwrap());
        assert_eq!(doc.title.as_deref(), Some("Loss — iris-mlp"));
        assert!(doc.has_text("loss") && doc.has_text("val_loss") && doc.has_text("epoch"));
        assert_eq!(doc.polylines_in(&hex(series_colour(0))), 1);
        assert_eq!(doc.polylines_in(&hex(series_colour(1))), 1);
    }

    #[test]
    fn without_validation_the_loss_chart_has_one_series() {
        let epochs: Vec<_> = history()
            .into_iter()
            .map(|e| EpochPoint {
                val_loss: None,
                ..e
            })
            .collect();
        let chart = loss("", &epochs);
        assert_eq!(chart.spec.title, "Loss");
        assert_eq!(chart.series.len(), 1);
    }

    #[test]
    fn a_metric_chart_pairs_the_training_and_validation_values() {
        let chart = metric("job", "accuracy", &history());
        let names: Vec<_> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["accuracy", "val_accuracy"]);
        assert_eq!(chart.series[1].points[0], (1.0, 0.375));
        let only_val = metric("job", "val_accuracy", &history());
        assert_eq!(only_val.series.len(), 1);
        let doc = inspect(&chart.render().unwrap());
        assert!(doc.has_text("accuracy") && doc.has_text("val_accuracy"));
    }

    #[test]
    fn an_unknown_metric_draws_an_empty_chart() {
        let doc = inspect(&metric("job", "precision", &history()).render().unwrap());
        assert!(doc.has_text("no data yet"));
        assert!(doc.has_text("precision (no data)"));
    }

    #[test]
    fn no_epochs_yet_gives_no_data_yet_for_every_chart() {
        for chart in [
            loss("job", &[]),
            metric("job", "accuracy", &[]),
            learning_rate("job", &[]),
            gradients("job", &[]),
            steps("job", &[]),
            compare::<&str, &[EpochPoint]>("val_loss", &[]),
        ] {
            let doc = inspect(&chart.render().unwrap());
            assert!(doc.has_text("no data yet"), "{}", chart.spec.title);
        }
    }

    #[test]
    fn the_learning_rate_chart_follows_the_schedule() {
        let chart = learning_rate("job", &history());
        let rates: Vec<f64> = chart.series[0].points.iter().map(|p| p.1).collect();
        assert_eq!(rates[..5], [0.1, 0.1, 0.1, 0.1, 0.05]);
        inspect(&chart.render().unwrap());
    }

    #[test]
    fn gradients_get_one_log_scale_line_per_layer_named_from_the_input_side() {
        let chart = gradients("deep-sigmoid", &history());
        assert_eq!(chart.spec.y_scale, Scale::Log);
        let names: Vec<_> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["layer 0 (input side)", "layer 1", "layer 2 (output side)"]
        );
        assert_eq!(chart.series[0].points[0], (1.0, 1e-4));
        let doc = inspect(&chart.render().unwrap());
        for (i, name) in names.iter().enumerate() {
            assert!(doc.has_text(name), "{name}");
            assert_eq!(doc.polylines_in(&hex(series_colour(i))), 1);
        }
        assert!(doc.has_text("mean kernel-gradient L2 norm"));
    }

    #[test]
    fn a_dead_layer_with_zero_gradients_leaves_a_gap_on_the_log_scale() {
        let mut epochs = history();
        for epoch in &mut epochs[4..8] {
            epoch.layer_grad_norms[0] = 0.0;
        }
        let doc = inspect(&gradients("job", &epochs).render().unwrap());
        assert_eq!(doc.polylines_in(&hex(series_colour(0))), 2);
    }

    #[test]
    fn a_single_layer_network_names_its_only_layer_for_both_sides() {
        let epochs = [EpochPoint {
            epoch: 1,
            layer_grad_norms: vec![0.3],
            ..EpochPoint::default()
        }];
        assert_eq!(
            gradients("job", &epochs).series[0].name,
            "layer 0 (input and output)"
        );
    }

    #[test]
    fn the_steps_chart_plots_each_recorded_batch_loss() {
        let points: Vec<_> = (0..500)
            .map(|s| StepPoint {
                step: s * 10,
                loss: 2.0 / (s as f64 + 1.0),
            })
            .collect();
        let chart = steps("job", &points);
        assert_eq!(chart.spec.x_label, "step");
        assert_eq!(chart.series[0].points[2], (20.0, 2.0 / 3.0));
        let doc = inspect(&chart.render().unwrap());
        assert_eq!(doc.polylines_in(&hex(series_colour(0))), 1);
    }

    #[test]
    fn compare_overlays_one_metric_of_each_run_under_the_callers_labels() {
        let slower: Vec<_> = history()
            .into_iter()
            .map(|e| EpochPoint {
                val_loss: e.val_loss.map(|v| v * 2.0),
                ..e
            })
            .collect();
        let runs = [
            ("lr=0.1".to_string(), history()),
            ("lr=0.01".to_string(), slower),
            ("pending".to_string(), vec![]),
        ];
        let chart = compare("val_loss", &runs);
        let names: Vec<_> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["lr=0.1", "lr=0.01", "pending"]);
        assert_eq!(chart.spec.y_label, "val_loss");
        let doc = inspect(&chart.render().unwrap());
        assert!(
            doc.has_text("lr=0.1") && doc.has_text("lr=0.01") && doc.has_text("pending (no data)")
        );
        assert_eq!(doc.polylines_in(&hex(series_colour(0))), 1);
        assert_eq!(doc.polylines_in(&hex(series_colour(1))), 1);
        assert_eq!(doc.polylines_in(&hex(series_colour(2))), 0);
    }
}
