//! Turning a finished simulation into the run folder (docs/output-format.md).

use super::{expect, Finished, RunOptions, RunOutcome};
use crate::kernel::time::to_ms_f64;
use crate::kernel::Time;
use crate::matrix::world::World;
use crate::observe::delivery::{for_each_delivery, sort_rows, DeliveryRow};
use crate::observe::metrics::compute_with;
use crate::observe::pairs::DeliveryStats;
use crate::observe::recorder::Observer;
use crate::observe::stream::CsvFile;
use crate::observe::tables;
use crate::observe::tally::summary_stats;
use crate::output::files::{write_atomic, Digester};
use crate::output::sequence::{render, SEQUENCE_CAP};
use crate::output::trace;
use crate::scenario::{FaultCfg, RecordsMode, Scenario};
use serde_json::{json, Value};
use std::path::Path;

/// The delivery rows and their statistics, streamed: `full_at(n)` says whether a run
/// with `n` rows keeps them (full mode). Summary mode keeps no row, only histograms and
/// counts; `auto` keeps rows until one more than its limit, then drops them all.
pub fn gather_deliveries(
    obs: &Observer,
    w: &World,
    end: Time,
    full_at: impl Fn(usize) -> bool,
) -> (Vec<DeliveryRow>, DeliveryStats, bool) {
    if let Some(tally) = &obs.tally {
        // Summary mode from the start: no receipt times were kept.
        return (vec![], summary_stats(obs, tally, w, end), false);
    }
    let mut rows = vec![];
    let mut full = full_at(0);
    let mut stats = DeliveryStats::new(full);
    for_each_delivery(obs, w, end, |r| {
        stats.add(&r);
        if full {
            if full_at(rows.len() + 1) {
                rows.push(r);
            } else {
                full = false;
                rows = vec![];
                stats.drop_values();
            }
        }
    });
    sort_rows(&mut rows, w);
    (rows, stats, full)
}

pub fn write_run(
    scn: &Scenario,
    mut fin: Finished,
    opts: &RunOptions,
    mode: RecordsMode,
) -> anyhow::Result<RunOutcome> {
    let dir = &opts.out_dir;
    // The streamed CSV files: their last rows handed over, written by their thread while
    // this one counts the deliveries, then closed.
    let mut streams = std::mem::take(&mut fin.observer.streams);
    streams.end_input()?;
    let w = &fin.world;
    let obs = &fin.observer;
    let (rows, stats, full) =
        gather_deliveries(&fin.observer, w, fin.end, |n| super::records_full(mode, n));
    let records_note = match (mode, full) {
        (RecordsMode::Auto, false) => Some(format!(
            "records = \"auto\" switched to summary mode: {} delivery rows exceed 1 000 000",
            stats.all.rows
        )),
        _ => None,
    };
    let interval = scn.file.simulation.sample_interval.us().max(1);
    let computed = compute_with(obs, w, stats, fin.end, interval, !full);
    let mut metrics = computed.metrics;
    metrics.insert("sim.events".into(), fin.events as f64);
    metrics.insert("sim.wall_s".into(), fin.wall_s);
    metrics.insert(
        "sim.events_per_s".into(),
        fin.events as f64 / fin.wall_s.max(1e-9),
    );

    // CSV files, in the digest's fixed order.
    let streamed = streams.finish()?;
    let files = run_files(obs, w, full.then_some(rows.as_slice()), streamed)?;
    let run_digest = digest(&files)?;

    let checked = if opts.no_expect {
        vec![]
    } else {
        expect::check(&scn.file.expect, &metrics)
    };
    let failures: Vec<String> = checked
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.text.clone())
        .collect();

    // Annotations for plots: faults, leaves, crashes, server policies.
    let mut faults = vec![];
    for f in &scn.file.fault {
        match f {
            FaultCfg::Partition { servers, from, to } => faults.push(json!({"kind": "partition", "servers": servers, "from_ms": from.ms(), "to_ms": to.ms()})),
            FaultCfg::ClientOffline { clients, from, to } => {
                faults.push(json!({"kind": "client_offline", "servers": clients, "from_ms": from.ms(), "to_ms": to.map(|t| t.ms()).unwrap_or(fin.end / 1000)}))
            }
            FaultCfg::Link { servers, from, to, .. } => faults.push(json!({"kind": "link", "servers": servers, "from_ms": from.ms(), "to_ms": to.ms()})),
            _ => {}
        }
    }
    for (s, ivs) in &obs.down {
        for (a, b) in ivs {
            faults.push(json!({"kind": "crash", "servers": [w.sh.dir.servers[*s]], "from_ms": crate::kernel::time::to_ms(*a), "to_ms": crate::kernel::time::to_ms(b.unwrap_or(fin.end))}));
        }
    }
    let servers: Vec<Value> = w
        .servers
        .enumerate()
        .map(|(id, s)| json!({"name": w.sh.dir.servers[id], "policy": serde_json::to_value(s.cfg.inbound.policy).unwrap_or(Value::Null), "catch_up": serde_json::to_value(s.cfg.federation.catch_up).unwrap_or(Value::Null)}))
        .collect();
    let leaves: Vec<f64> = obs.leaves.iter().map(|t| to_ms_f64(*t)).collect();
    let crashes: Vec<f64> = obs.open.crashes.values().map(|c| to_ms_f64(c.1)).collect();
    let metrics_json: serde_json::Map<String, Value> =
        metrics.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let mut summary = json!({
        "scenario": scn.name(),
        "description": scn.file.simulation.description,
        "scenario_digest": scn.digest(),
        "seed": scn.seed(),
        "version": crate::VERSION,
        "simulated_duration_ms": crate::kernel::time::to_ms(fin.end),
        "events": fin.events,
        "wall_s": fin.wall_s,
        "records": if full { "full" } else { "summary" },
        "metrics": metrics_json,
        "expect": checked,
        "annotations": { "faults": faults, "leaves_ms": leaves, "crashes_ms": crashes, "servers": servers },
        "files": files.iter().map(CsvFile::name).collect::<Vec<_>>(),
        "digest": run_digest,
    });
    summary["expect_checked"] = json!(!opts.no_expect);
    if opts.no_expect {
        summary["expect_note"] = json!(format!(
            "claims not checked (--no-expect): the scenario has {} [[expect]] claim(s)",
            scn.file.expect.len()
        ));
    }
    if let Some(note) = &records_note {
        summary["records_note"] = json!(note);
    }
    if !full {
        let h = &computed.latency_hists;
        summary["histograms"] = json!({
            "delivery.latency_ms": h.all,
            "delivery.local.latency_ms": h.local,
            "delivery.remote.latency_ms": h.remote,
            "rtc.ghost_ms": computed.ghost_hist,
        });
    }

    clear_old_run(dir, &files, opts.trace)?;
    write_atomic(dir, "scenario.toml", scn.to_toml().as_bytes())?;
    for f in files {
        match f {
            CsvFile::Memory(name, bytes) => {
                write_atomic(dir, name, &bytes)?;
            }
            CsvFile::Streamed(staged) => staged.commit(dir)?,
        }
    }
    if opts.trace {
        // --trace: every message in time order, and the sequence diagram of the first ones.
        let mut trace = trace::render(w, scn, obs, fin.end, fin.unstable_names);
        if let Some(f) = &opts.trace_filter {
            let client_server =
                w.sh.dir
                    .clients
                    .iter()
                    .map(|c| (c.name.clone(), w.sh.dir.servers[c.server].clone()))
                    .collect();
            trace = f.apply(trace, &client_server, &trace::room_names(scn));
        }
        let mut s = String::new();
        for m in &trace {
            s.push_str(&m.to_json().to_string());
            s.push('\n');
        }
        write_atomic(dir, "trace.jsonl", s.as_bytes())?;
        let names = crate::observe::stream::Names::of(w);
        let mut mmd = render(&trace, &names.servers, &names.clients, SEQUENCE_CAP);
        if let Some(f) = &opts.trace_filter {
            // Say in the diagram (and so in report.md) that lines were left out on purpose.
            let line = format!(
                "sequenceDiagram\n    %% --trace-filter {}: only the matching messages.\n",
                f.describe()
            );
            mmd = mmd.replacen("sequenceDiagram\n", &line, 1);
        }
        write_atomic(dir, "sequence.mmd", mmd.as_bytes())?;
    }
    // summary.json last: its presence marks a complete run folder.
    write_atomic(
        dir,
        "summary.json",
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let outcome = RunOutcome {
        out_dir: dir.clone(),
        metrics,
        digest: run_digest,
        failures,
        expectations: checked,
        events: fin.events,
        wall_s: fin.wall_s,
    };
    // Freeing a large run's model (millions of small objects) takes a second: let a thread
    // do it while the caller goes on.
    std::thread::spawn(move || drop(fin));
    Ok(outcome)
}

/// Every CSV of a run in the digest's fixed order: deliveries.csv (full mode only), then
/// the streamed federation.csv, syncs.csv, convergence.csv and timeseries.csv, then
/// writes.csv and ghosts.csv (MatrixRTC participants only).
fn run_files(
    obs: &Observer,
    w: &World,
    deliveries_rows: Option<&[DeliveryRow]>,
    streamed: Vec<CsvFile>,
) -> anyhow::Result<Vec<CsvFile>> {
    let names: Vec<&str> = streamed.iter().map(CsvFile::name).collect();
    if names
        != [
            "federation.csv",
            "syncs.csv",
            "convergence.csv",
            "timeseries.csv",
        ]
    {
        anyhow::bail!("internal error: the run's streamed CSV files are missing");
    }
    let (deliveries, writes, ghosts) = tables::in_memory(obs, w, deliveries_rows);
    let mut files = vec![];
    if let Some(d) = deliveries {
        files.push(CsvFile::Memory("deliveries.csv", d));
    }
    files.extend(streamed);
    files.push(CsvFile::Memory("writes.csv", writes));
    if let Some(g) = ghosts {
        files.push(CsvFile::Memory("ghosts.csv", g));
    }
    Ok(files)
}

/// The run's digest ([`crate::output::files::digest`]) over its files, the streamed ones
/// read back from their temporary files.
fn digest(files: &[CsvFile]) -> anyhow::Result<String> {
    let mut d = Digester::default();
    for f in files {
        match f {
            CsvFile::Memory(name, bytes) => d.file(name, bytes.len() as u64, &mut &bytes[..]),
            CsvFile::Streamed(s) => {
                let mut r = std::fs::File::open(&s.tmp)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", s.tmp.display()))?;
                d.file(s.name, s.len, &mut r)
            }
        }
        .map_err(|e| anyhow::anyhow!("cannot read back {}: {e}", f.name()))?;
    }
    Ok(d.finish())
}

/// Every file a run may write into its folder (besides `scenario.toml` and `summary.json`).
const RUN_FILES: [&str; 9] = [
    "deliveries.csv",
    "federation.csv",
    "syncs.csv",
    "convergence.csv",
    "timeseries.csv",
    "ghosts.csv",
    "trace.jsonl",
    "sequence.mmd",
    "report.md",
];

/// A rerun into a used folder replaces the old run whole: `summary.json` goes first (so a
/// folder caught half-written reads as unfinished), then every run file and plot this run
/// will not write itself, and temporary files a killed run left behind.
fn clear_old_run(dir: &Path, files: &[CsvFile], trace: bool) -> anyhow::Result<()> {
    let gone = |p: &Path| -> anyhow::Result<()> {
        match std::fs::remove_file(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(anyhow::anyhow!("cannot remove {}: {e}", p.display()))
            }
            _ => Ok(()),
        }
    };
    gone(&dir.join("summary.json"))?;
    for name in RUN_FILES {
        let written = files.iter().any(|f| f.name() == name)
            || (trace && (name == "trace.jsonl" || name == "sequence.mmd"));
        if !written {
            gone(&dir.join(name))?;
        }
    }
    let plots = dir.join("plots");
    if plots.is_dir() {
        std::fs::remove_dir_all(&plots)
            .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", plots.display()))?;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = files
                .iter()
                .any(|f| matches!(f, CsvFile::Streamed(s) if s.tmp == e.path()));
            if crate::output::lock::is_temporary(&name) && e.path().is_file() && !ours {
                gone(&e.path())?;
            }
        }
    }
    Ok(())
}
