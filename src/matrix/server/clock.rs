//! A server's local clock (MSC4354 "Time"): simulated time + skew, with optional drift, changed
//! piecewise by `clock` faults. Protocol timestamps are milliseconds of this clock.

use crate::kernel::Time;

#[derive(Clone, Debug)]
pub struct Clock {
    /// Sim time at which the current segment starts and the local time (us) it shows then.
    base_sim: Time,
    base_local: i64,
    drift_ppm: f64,
}

impl Clock {
    pub fn new(skew_us: i64, drift_ppm: f64) -> Clock {
        Clock {
            base_sim: 0,
            base_local: skew_us,
            drift_ppm,
        }
    }

    pub fn local_us(&self, t: Time) -> i64 {
        let dt = t.saturating_sub(self.base_sim) as f64;
        self.base_local + (dt * (1.0 + self.drift_ppm / 1e6)).round() as i64
    }

    /// Local milliseconds (protocol timestamps).
    pub fn local_ms(&self, t: Time) -> i64 {
        self.local_us(t).div_euclid(1000)
    }

    /// The simulated time at which this clock will show `local_ms` (never before `now`).
    pub fn sim_time_of_local_ms(&self, local_ms: i64, now: Time) -> Time {
        let target = local_ms.saturating_mul(1000);
        let rate = 1.0 + self.drift_ppm / 1e6;
        let dt = (target - self.base_local) as f64 / rate.max(1e-9);
        let t = self.base_sim as f64 + dt;
        if t <= now as f64 {
            now
        } else {
            t.min(u64::MAX as f64 / 2.0).ceil() as Time
        }
    }

    /// A `clock` fault from `now` on: new skew (relative to simulated time) and/or drift.
    pub fn change(&mut self, now: Time, skew_us: Option<i64>, drift_ppm: Option<f64>) {
        let local = match skew_us {
            Some(s) => now as i64 + s,
            None => self.local_us(now),
        };
        self.base_sim = now;
        self.base_local = local;
        if let Some(d) = drift_ppm {
            self.drift_ppm = d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_shifts_local_time_and_drift_scales_it() {
        // 10 min ahead.
        let c = Clock::new(600_000_000, 0.0);
        assert_eq!(c.local_ms(1_000_000), 601_000);
        // 100 ppm fast: after 1 h the clock is 360 ms ahead.
        let c = Clock::new(0, 100.0);
        assert_eq!(c.local_ms(3_600_000_000), 3_600_360);
    }

    #[test]
    fn a_fault_changes_skew_from_its_instant_on() {
        let mut c = Clock::new(0, 0.0);
        c.change(10_000_000, Some(-5_000_000), None);
        assert_eq!(c.local_ms(10_000_000), 5_000);
        assert_eq!(c.local_ms(20_000_000), 15_000);
        // The inverse: local 15 000 ms is shown at sim 20 s.
        assert_eq!(c.sim_time_of_local_ms(15_000, 0), 20_000_000);
        // Never before now.
        assert_eq!(c.sim_time_of_local_ms(0, 12_000_000), 12_000_000);
    }
}
