//! `[[expect]]` claims, checked against the run's metrics.

use super::Metrics;
use crate::scenario::ExpectCfg;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    pub metric: String,
    pub op: String,
    pub value: f64,
    pub actual: Option<f64>,
    pub pass: bool,
    pub text: String,
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// One result per comparison given (equals, min, max).
pub fn check(expects: &[ExpectCfg], m: &Metrics) -> Vec<Checked> {
    let mut out = vec![];
    for e in expects {
        let actual = m.get(&e.metric).copied();
        let got = actual.map(fmt).unwrap_or_else(|| "no value".into());
        let mut push = |op: &str, value: f64, pass: bool, sym: &str| {
            let extra = match (op, e.tolerance) {
                ("equals", Some(t)) => format!(" ± {}%", fmt(t * 100.0)),
                _ => String::new(),
            };
            out.push(Checked {
                metric: e.metric.clone(),
                op: op.into(),
                value,
                actual,
                pass,
                text: format!("{} {sym} {}{extra} (got {got})", e.metric, fmt(value)),
            });
        };
        if let Some(v) = e.equals {
            let tol = e.tolerance.unwrap_or(0.0).abs() * v.abs();
            let pass = actual.is_some_and(|a| (a - v).abs() <= tol.max(1e-9));
            push("equals", v, pass, "==");
        }
        if let Some(v) = e.min {
            push("min", v, actual.is_some_and(|a| a >= v), ">=");
        }
        if let Some(v) = e.max {
            push("max", v, actual.is_some_and(|a| a <= v), "<=");
        }
    }
    out
}
