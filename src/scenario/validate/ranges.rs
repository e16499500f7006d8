//! Range checks: numbers, probabilities, durations, distributions and intervals.

use super::*;

impl Checker {
    pub(super) fn push(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.out.push(Problem::new(path.clone(), message));
    }

    pub(super) fn finite(&mut self, path: &KeyPath, x: f64) {
        if !x.is_finite() {
            self.push(path, format!("must be a finite number (got {})", num(x)));
        }
    }

    pub(super) fn probability(&mut self, path: &KeyPath, p: f64) {
        // NaN fails `contains` too.
        if !(0.0..=1.0).contains(&p) {
            self.push(
                path,
                format!("must be a probability between 0 and 1 (got {})", num(p)),
            );
        }
    }

    pub(super) fn positive(&mut self, path: &KeyPath, x: Dur) {
        if x.0 == 0 {
            self.push(path, "must be greater than 0");
        }
    }

    /// Any duration key other than `simulation.duration`.
    pub(super) fn time(&mut self, path: &KeyPath, x: Dur) {
        if x > MAX_TIME {
            self.push(
                path,
                format!(
                    "must be at most {} (100 years; got {}): larger times overflow the clock arithmetic",
                    d(MAX_TIME),
                    d(x)
                ),
            );
        }
    }

    /// A signed offset: at most 100 years either way.
    pub(super) fn offset(&mut self, path: &KeyPath, x: SignedDur) {
        if x.0.unsigned_abs() > MAX_TIME.0 {
            self.push(
                path,
                format!(
                    "must be within ±{} (100 years; got {}): larger offsets overflow the clock arithmetic",
                    d(MAX_TIME),
                    format_duration_us(x.0)
                ),
            );
        }
    }

    /// A duration that restarts a loop: at least 1 ms, so a loop cannot stay at one instant.
    pub(super) fn loop_period(&mut self, path: &KeyPath, x: Dur, why: &str) {
        if x < MIN_LOOP_WAIT {
            self.push(
                path,
                format!(
                    "must be at least {} (got {}): {why}",
                    d(MIN_LOOP_WAIT),
                    d(x)
                ),
            );
        }
    }

    pub(super) fn multiplier(&mut self, path: &KeyPath, m: f64) {
        if !(m >= 1.0 && m.is_finite()) {
            self.push(
                path,
                format!("must be a finite number of at least 1 (got {})", num(m)),
            );
        }
    }

    pub(super) fn jitter(&mut self, path: &KeyPath, j: [f64; 2]) {
        let [lo, hi] = j;
        if !(lo > 0.0 && lo <= hi && hi <= MAX_JITTER) {
            self.push(
                path,
                format!(
                    "needs 0 < low <= high <= {MAX_JITTER}, as in [0.8, 1.4]: each wait is multiplied by a draw from [low, high] (got [{}, {}])",
                    num(lo),
                    num(hi)
                ),
            );
        }
    }

    /// A count with an upper bound (and the reason for it).
    pub(super) fn at_most(&mut self, path: &KeyPath, n: u64, max: u64, why: &str) {
        if n > max {
            self.push(path, format!("must be at most {max} (got {n}): {why}"));
        }
    }

    pub(super) fn dist(&mut self, path: &KeyPath, dist: &Dist) {
        let durs: Vec<(&str, Dur)> = match dist {
            Dist::Constant { value } => vec![("value", *value)],
            Dist::Uniform { min, max } => vec![("min", *min), ("max", *max)],
            Dist::Exponential { mean } => vec![("mean", *mean)],
            Dist::Lognormal { median, .. } => vec![("median", *median)],
            Dist::Normal { mean, std, min } => vec![("mean", *mean), ("std", *std), ("min", *min)],
        };
        for (k, v) in durs {
            self.time(&path.key(k), v);
        }
        match dist {
            Dist::Uniform { min, max } if min > max => self.push(
                path,
                format!("`min` ({}) is greater than `max` ({})", d(*min), d(*max)),
            ),
            Dist::Lognormal { sigma, .. } if !(*sigma >= 0.0 && *sigma <= MAX_SIGMA) => self
                .push(
                    &path.key("sigma"),
                    format!(
                        "must be a number from 0 to {MAX_SIGMA} (got {}): the mean is median × e^(sigma²/2), already 268 000 × the median at sigma 5",
                        num(*sigma)
                    ),
                ),
            _ => {}
        }
    }

    pub(super) fn interval(&mut self, path: &KeyPath, from: Dur, to: Option<Dur>) {
        self.time(&path.key("from"), from);
        if let Some(to) = to {
            self.time(&path.key("to"), to);
            if from >= to {
                self.push(
                    &path.key("to"),
                    format!("`from` ({}) must be before `to` ({})", d(from), d(to)),
                );
            }
        }
    }

    /// The smallest wait a retry schedule allows, `min(first, max) × jitter low`, must be at
    /// least 1 ms. Blamed on `first` (or `max` when that is the smaller).
    pub(super) fn min_wait(
        &mut self,
        p: &KeyPath,
        first_key: &str,
        first: Dur,
        max: Dur,
        jitter: [f64; 2],
        why: &str,
    ) {
        let smallest = first.min(max);
        let jlo = jitter[0].min(jitter[1]);
        let wait = (smallest.0 as f64 * jlo).round();
        if wait.is_finite() && wait >= MIN_LOOP_WAIT.0 as f64 {
            return;
        }
        let key = if max < first { "max" } else { first_key };
        let detail = if jlo < 1.0 && smallest >= MIN_LOOP_WAIT {
            format!(
                "its smallest wait, {} × jitter {jlo}, is under {}",
                d(smallest),
                d(MIN_LOOP_WAIT)
            )
        } else {
            format!("got {}", d(smallest))
        };
        self.push(
            &p.key(key),
            format!(
                "must give waits of at least {} ({detail}): {why}",
                d(MIN_LOOP_WAIT)
            ),
        );
    }

    pub(super) fn drift(&mut self, path: &KeyPath, ppm: f64) {
        if ppm.is_nan() || ppm.abs() > MAX_DRIFT_PPM {
            self.push(
                path,
                format!(
                    "must be a number from -{MAX_DRIFT_PPM:.0} to {MAX_DRIFT_PPM:.0} parts per million (got {}): -1000000 stops the clock, beyond that it would run backwards",
                    num(ppm)
                ),
            );
        }
    }
}
