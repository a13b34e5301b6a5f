//! Early stopping with Keras 3's semantics (K3 `callbacks/early_stopping.py`,
//! `callbacks/monitor_callback.py`), as a pure state machine the engine calls at each epoch end.
//!
//! Per evaluated epoch (value present and `epoch ≥ start_from_epoch`), in Keras's order:
//! 1. with `restore_best_weights` and no snapshot yet, snapshot the weights;
//! 2. `wait += 1`;
//! 3. if the value improves on the best so far (always true for the first evaluated epoch;
//!    otherwise strictly `value < best − |min_delta|` when minimizing, `value > best + |min_delta|`
//!    when maximizing): record it as best, snapshot if restoring, reset `wait` to 0 only if there
//!    is no baseline or the value also improves on the baseline, and do not stop;
//! 4. otherwise stop if `wait ≥ patience` and `epoch > 0` — so patience 0 acts like 1.
//!
//! With restore enabled, Keras 3 restores the snapshot at the end of training whenever one
//! exists, even if the stop never fired (tf.keras 2 restored only after a stop).

/// Which direction counts as an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `loss`-like names are minimized, everything else (accuracy…) maximized.
    #[default]
    Auto,
    Min,
    Max,
}

/// The resolved direction of a monitored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Minimize,
    Maximize,
}

impl Mode {
    /// The direction for `monitor` under this mode, or `None` when `Auto` cannot tell.
    ///
    /// Keras's `auto` strips a `val_` prefix, minimizes `loss`, and otherwise asks the metric's
    /// `_direction`: accuracy metrics go up, error metrics (`mean_squared_error`,
    /// `mean_absolute_error`…) go down. We decide by name: a name ending in `loss` or `error`
    /// (or the aliases `mse`, `mae`) is minimized, one ending in `accuracy` (or `acc`)
    /// maximized; anything else is undecidable, where Keras raises a ValueError.
    pub fn direction(self, monitor: &str) -> Option<Direction> {
        match self {
            Mode::Min => Some(Direction::Minimize),
            Mode::Max => Some(Direction::Maximize),
            Mode::Auto => {
                let name = monitor.strip_prefix("val_").unwrap_or(monitor);
                if name.ends_with("loss")
                    || name.ends_with("error")
                    || matches!(name, "mse" | "mae")
                {
                    Some(Direction::Minimize)
                } else if name.ends_with("accuracy") || name == "acc" {
                    Some(Direction::Maximize)
                } else {
                    None
                }
            }
        }
    }
}

/// A checked early-stopping configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStoppingConfig {
    /// A key of the epoch record: `loss`, `val_loss`, `accuracy`, `val_accuracy`, …
    pub monitor: String,
    pub min_delta: f32,
    pub patience: usize,
    pub mode: Mode,
    pub baseline: Option<f32>,
    pub restore_best_weights: bool,
    pub start_from_epoch: usize,
}

impl EarlyStoppingConfig {
    /// Keras's `EarlyStopping()` defaults: monitor `val_loss`, min_delta 0, patience 0, mode
    /// auto, no baseline, no restore, start_from_epoch 0 (K3 `callbacks/early_stopping.py`).
    pub fn keras_default() -> Self {
        Self {
            monitor: "val_loss".to_owned(),
            min_delta: 0.0,
            patience: 0,
            mode: Mode::Auto,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
        }
    }
}

/// Why an early-stopping configuration cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EarlyStoppingError {
    #[error(
        "cannot tell whether `{monitor}` should be minimized or maximized; set mode to min or max"
    )]
    UnknownDirection { monitor: String },
}

/// What the engine must do after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// The monitored value set a new best this epoch.
    pub improved: bool,
    /// Copy the end-of-epoch weights as the snapshot to restore (only with
    /// `restore_best_weights`).
    pub snapshot: bool,
    /// Stop training after this epoch.
    pub stop: bool,
}

/// The mutable part of [`EarlyStopping`], as plain numbers for checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EarlyStoppingState {
    /// Evaluated epochs since the last reset (Keras's `wait`).
    pub wait: usize,
    /// The best value so far; `None` before the first evaluated epoch.
    pub best: Option<f32>,
    /// Zero-based epoch of `best` (or of the first snapshot); 0 before any.
    pub best_epoch: usize,
    /// Zero-based epoch at which the stop fired, if it did.
    pub stopped_epoch: Option<usize>,
    /// Whether the engine holds a weight snapshot.
    pub has_snapshot: bool,
}

/// The early-stopping state machine for one training run.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopping {
    config: EarlyStoppingConfig,
    direction: Direction,
    state: EarlyStoppingState,
}

impl EarlyStopping {
    pub fn new(config: EarlyStoppingConfig) -> Result<Self, EarlyStoppingError> {
        Self::restore(config, EarlyStoppingState::default())
    }

    /// Resumes from a checkpointed [`EarlyStopping::state`].
    pub fn restore(
        config: EarlyStoppingConfig,
        state: EarlyStoppingState,
    ) -> Result<Self, EarlyStoppingError> {
        let direction = config.mode.direction(&config.monitor).ok_or_else(|| {
            EarlyStoppingError::UnknownDirection {
                monitor: config.monitor.clone(),
            }
        })?;
        Ok(Self {
            config,
            direction,
            state,
        })
    }

    pub fn config(&self) -> &EarlyStoppingConfig {
        &self.config
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    pub fn state(&self) -> EarlyStoppingState {
        self.state
    }

    /// Zero-based epoch of the best value, once an epoch has been evaluated.
    pub fn best_epoch(&self) -> Option<usize> {
        self.state.best.map(|_| self.state.best_epoch)
    }

    pub fn best_value(&self) -> Option<f32> {
        self.state.best
    }

    /// Zero-based epoch at which training was stopped, if it was.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.state.stopped_epoch
    }

    /// Whether the engine should put the snapshot back when training ends, early stop or not.
    pub fn restore_at_end(&self) -> bool {
        self.config.restore_best_weights && self.state.has_snapshot
    }

    /// Feeds the monitored value of zero-based epoch `epoch_index` (`EpochRecord::epoch − 1`);
    /// `None` when the record lacks the monitored key, which Keras skips with a warning.
    pub fn on_epoch_end(&mut self, epoch_index: usize, value: Option<f32>) -> Decision {
        let mut decision = Decision::default();
        let Some(current) = value else {
            return decision;
        };
        if epoch_index < self.config.start_from_epoch {
            return decision;
        }
        let restoring = self.config.restore_best_weights;
        if restoring && !self.state.has_snapshot {
            self.state.has_snapshot = true;
            self.state.best_epoch = epoch_index;
            decision.snapshot = true;
        }
        self.state.wait += 1;
        if self.is_improvement(current, self.state.best) {
            self.state.best = Some(current);
            self.state.best_epoch = epoch_index;
            decision.improved = true;
            decision.snapshot = restoring;
            let beats_baseline = match self.config.baseline {
                None => true,
                Some(baseline) => self.is_improvement(current, Some(baseline)),
            };
            if beats_baseline {
                self.state.wait = 0;
            }
            return decision;
        }
        if self.state.wait >= self.config.patience && epoch_index > 0 {
            self.state.stopped_epoch = Some(epoch_index);
            decision.stop = true;
        }
        decision
    }

    /// Keras's `monitor_op(current − min_delta, reference)` with `min_delta` signed by the
    /// direction; compared in f64 as Keras compares Python floats. No reference → improvement.
    fn is_improvement(&self, current: f32, reference: Option<f32>) -> bool {
        let Some(reference) = reference else {
            return true;
        };
        let (current, reference) = (f64::from(current), f64::from(reference));
        let min_delta = f64::from(self.config.min_delta.abs());
        match self.direction {
            Direction::Minimize => current + min_delta < reference,
            Direction::Maximize => current - min_delta > reference,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(monitor: &str, patience: usize) -> EarlyStoppingConfig {
        EarlyStoppingConfig {
            monitor: monitor.to_owned(),
            patience,
            ..EarlyStoppingConfig::keras_default()
        }
    }

    /// Runs `values` (one per epoch, `None` = missing) through the machine as the engine would
    /// and returns the number of epochs trained and the final machine.
    fn run(config: EarlyStoppingConfig, values: &[Option<f32>]) -> (usize, EarlyStopping) {
        let mut early_stopping = EarlyStopping::new(config).unwrap();
        for (epoch_index, &value) in values.iter().enumerate() {
            if early_stopping.on_epoch_end(epoch_index, value).stop {
                return (epoch_index + 1, early_stopping);
            }
        }
        (values.len(), early_stopping)
    }

    #[test]
    fn constant_loss_stops_after_two_two_and_three_epochs_for_patience_zero_one_two() {
        // NUMERICS.md §9: EarlyStopping(monitor="loss") with a constant loss in Keras 3.15.1
        // ran 2 / 2 / 3 epochs for patience 0 / 1 / 2.
        let constant = [Some(1.0); 20];
        for (patience, epochs) in [(0, 2), (1, 2), (2, 3), (5, 6)] {
            let (trained, early_stopping) = run(config("loss", patience), &constant);
            assert_eq!(trained, epochs, "patience {patience}");
            assert_eq!(early_stopping.best_epoch(), Some(0));
            assert_eq!(early_stopping.stopped_epoch(), Some(epochs - 1));
        }
    }

    #[test]
    fn restoring_with_a_rising_loss_keeps_epoch_zeros_snapshot_without_a_stop() {
        // NUMERICS.md §9: restore_best_weights=True, patience=10, loss rising over 3 epochs:
        // Keras 3 restores the end of epoch 0 although the stop never fired.
        let mut early_stopping = EarlyStopping::new(EarlyStoppingConfig {
            restore_best_weights: true,
            ..config("loss", 10)
        })
        .unwrap();
        let decisions: Vec<Decision> = [1.0, 1.01, 1.02]
            .iter()
            .enumerate()
            .map(|(epoch_index, &loss)| early_stopping.on_epoch_end(epoch_index, Some(loss)))
            .collect();
        let snapshot_at_zero = Decision {
            improved: true,
            snapshot: true,
            stop: false,
        };
        assert_eq!(
            decisions,
            vec![snapshot_at_zero, Decision::default(), Decision::default()]
        );
        assert!(early_stopping.restore_at_end());
        assert_eq!(early_stopping.best_epoch(), Some(0));
        assert_eq!(early_stopping.stopped_epoch(), None);
    }

    #[test]
    fn without_restore_nothing_is_snapshotted_or_restored() {
        let (_, early_stopping) = run(config("loss", 1), &[Some(1.0), Some(2.0), Some(3.0)]);
        assert!(!early_stopping.restore_at_end());
    }

    #[test]
    fn improvements_must_beat_the_best_by_more_than_min_delta() {
        // Each row: min_delta, losses, epochs trained with patience 1.
        let rows: &[(f32, &[f32], usize)] = &[
            // 0.95 is 0.05 better than 1.0: not strictly more than 0.1 → stop at epoch 2.
            (0.1, &[1.0, 0.95, 0.9, 0.5], 2),
            // A negative min_delta counts by its absolute value.
            (-0.1, &[1.0, 0.95, 0.9, 0.5], 2),
            // With min_delta 0, every strict decrease resets the wait.
            (0.0, &[1.0, 0.95, 0.9, 0.5], 4),
            // Equal values are not improvements.
            (0.0, &[1.0, 0.9, 0.9], 3),
        ];
        for &(min_delta, losses, epochs) in rows {
            let values: Vec<Option<f32>> = losses.iter().map(|&v| Some(v)).collect();
            let (trained, _) = run(
                EarlyStoppingConfig {
                    min_delta,
                    ..config("val_loss", 1)
                },
                &values,
            );
            assert_eq!(trained, epochs, "min_delta {min_delta}, {losses:?}");
        }
    }

    #[test]
    fn max_mode_treats_rising_values_as_improvements() {
        let rising = [Some(0.5), Some(0.6), Some(0.7), Some(0.7), Some(0.7)];
        let (trained, early_stopping) = run(
            EarlyStoppingConfig {
                mode: Mode::Max,
                ..config("val_loss", 1)
            },
            &rising,
        );
        assert_eq!(trained, 4);
        assert_eq!(early_stopping.best_value(), Some(0.7));
        assert_eq!(early_stopping.best_epoch(), Some(2));
        // Auto mode on an accuracy name is the same machine.
        let (trained, _) = run(config("val_accuracy", 1), &rising);
        assert_eq!(trained, 4);
    }

    #[test]
    fn auto_mode_reads_the_direction_from_the_name() {
        let rows = [
            ("loss", Some(Direction::Minimize)),
            ("val_loss", Some(Direction::Minimize)),
            ("mean_squared_error", Some(Direction::Minimize)),
            ("val_mean_absolute_error", Some(Direction::Minimize)),
            ("accuracy", Some(Direction::Maximize)),
            ("val_sparse_categorical_accuracy", Some(Direction::Maximize)),
            ("learning_rate", None),
        ];
        for (monitor, direction) in rows {
            assert_eq!(Mode::Auto.direction(monitor), direction, "{monitor}");
        }
        assert_eq!(
            EarlyStopping::new(config("learning_rate", 0)),
            Err(EarlyStoppingError::UnknownDirection {
                monitor: "learning_rate".to_owned()
            })
        );
        assert_eq!(
            Mode::Max.direction("learning_rate"),
            Some(Direction::Maximize)
        );
    }

    #[test]
    fn a_baseline_never_beaten_keeps_the_wait_counting_from_the_first_epoch() {
        // Baseline 0.5, patience 3: the first epoch (1.0) is a best but does not beat the
        // baseline, so wait is not reset; the next non-improving epoch with wait ≥ 3 stops.
        let losses = [Some(1.0), Some(1.1), Some(1.2), Some(1.3), Some(1.4)];
        let (trained, _) = run(
            EarlyStoppingConfig {
                baseline: Some(0.5),
                ..config("loss", 3)
            },
            &losses,
        );
        assert_eq!(trained, 3);
        // Without the baseline the same run waits three epochs after the best.
        let (trained, _) = run(config("loss", 3), &losses);
        assert_eq!(trained, 4);
    }

    #[test]
    fn a_beaten_baseline_resets_the_wait_like_no_baseline() {
        let losses = [Some(0.4), Some(0.45), Some(0.45), Some(0.45), Some(0.45)];
        let (trained, _) = run(
            EarlyStoppingConfig {
                baseline: Some(0.5),
                ..config("loss", 2)
            },
            &losses,
        );
        assert_eq!(trained, 3);
    }

    #[test]
    fn epochs_before_start_from_epoch_and_missing_values_are_not_evaluated() {
        // start_from_epoch 2: epochs 0 and 1 are ignored even though they are lower; the best
        // is epoch 2's 1.0, and patience 1 stops at epoch 3.
        let losses = [Some(0.1), Some(0.2), Some(1.0), Some(1.0), Some(1.0)];
        let (trained, early_stopping) = run(
            EarlyStoppingConfig {
                start_from_epoch: 2,
                ..config("loss", 1)
            },
            &losses,
        );
        assert_eq!(trained, 4);
        assert_eq!(early_stopping.best_epoch(), Some(2));
        // A missing value is skipped entirely: it neither improves nor counts toward patience.
        let gaps = [Some(1.0), None, None, Some(1.0)];
        let (trained, early_stopping) = run(config("val_loss", 1), &gaps);
        assert_eq!(trained, 4);
        assert_eq!(early_stopping.state().wait, 1);
    }

    #[test]
    fn state_round_trips_through_a_checkpoint_and_continues_identically() {
        let losses = [1.0, 0.8, 0.9, 0.85, 0.95, 0.99, 1.0];
        let settings = EarlyStoppingConfig {
            restore_best_weights: true,
            ..config("loss", 3)
        };
        let mut straight = EarlyStopping::new(settings.clone()).unwrap();
        let mut first_half = EarlyStopping::new(settings.clone()).unwrap();
        for (epoch_index, &loss) in losses.iter().enumerate().take(3) {
            straight.on_epoch_end(epoch_index, Some(loss));
            first_half.on_epoch_end(epoch_index, Some(loss));
        }
        let mut resumed = EarlyStopping::restore(settings, first_half.state()).unwrap();
        for (epoch_index, &loss) in losses.iter().enumerate().skip(3) {
            assert_eq!(
                straight.on_epoch_end(epoch_index, Some(loss)),
                resumed.on_epoch_end(epoch_index, Some(loss)),
                "epoch {epoch_index}"
            );
        }
        assert_eq!(straight.state(), resumed.state());
        assert_eq!(resumed.best_epoch(), Some(1));
    }
}
