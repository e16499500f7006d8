//! Turning a finished simulation into the run folder (docs/output-format.md).

use super::{expect, Finished, RunOptions, RunOutcome};
use crate::kernel::Time;
use crate::matrix::event::Content;
use crate::matrix::trace::finish_trace;
use crate::matrix::world::World;
use crate::observe::delivery::{for_each_delivery, sort_rows, DeliveryRow, Fate};
use crate::observe::metrics::{compute_with, DeliveryStats};
use crate::observe::recorder::Observer;
use crate::output::files::{digest, fixed, write_atomic, Csv};
use crate::output::sequence::{render, SEQUENCE_CAP};
use crate::scenario::{FaultCfg, RecordsMode, Scenario};
use serde_json::{json, Value};

fn ms(t: Time) -> String {
    (t / 1000).to_string()
}

fn ms3(t: Time) -> String {
    fixed(t as f64 / 1000.0, 3)
}

/// The delivery rows and their statistics, streamed: `full_at(n)` says whether a run
/// with `n` rows keeps them (full mode). Summary mode keeps no row, only histograms and
/// counts; `auto` keeps rows until one more than its limit, then drops them all.
pub fn gather_deliveries(
    obs: &Observer,
    w: &mut World,
    end: Time,
    full_at: impl Fn(usize) -> bool,
) -> (Vec<DeliveryRow>, DeliveryStats, bool) {
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
    let w = &mut fin.world;
    let obs = &fin.observer;
    let (rows, stats, full) =
        gather_deliveries(&fin.observer, w, fin.end, |n| super::records_full(mode, n));
    let records_note = match (mode, full) {
        (RecordsMode::Auto, false) => Some(format!(
            "records = \"auto\" switched to summary mode: {} delivery rows exceed 1 000 000",
            stats.rows
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
    let mut files: Vec<(&str, Vec<u8>)> = vec![];
    if full {
        let mut c = Csv::new("event_id,kind,room,sender_server,recipient_server,recipient_client,sent_ms,server_received_ms,client_received_ms,latency_ms,path,attempts");
        for r in &rows {
            let p = &w.pdus[r.pdu as usize];
            let kind = match &p.content {
                Content::Sticky { leave: true, .. } => "leave",
                Content::Sticky { ev_type: 0, .. } => "join",
                _ => "update",
            };
            let room = &w.rooms[p.room as usize].name;
            let sender_server = &w.servers[p.origin as usize].name;
            let rs = &w.servers[w.server_of[r.client as usize] as usize].name;
            let rc = &w.clients[r.client as usize].name;
            let (sr, cr, lat, path, att) = match &r.fate {
                Fate::Delivered {
                    server_received,
                    client_received,
                    path,
                    attempts,
                } => (
                    ms3(*server_received),
                    ms3(*client_received),
                    ms3(client_received - r.sent),
                    path.to_string(),
                    attempts.to_string(),
                ),
                Fate::Lost {
                    cause,
                    server_received,
                } => (
                    server_received.map(ms3).unwrap_or_default(),
                    String::new(),
                    String::new(),
                    format!("lost:{cause}"),
                    String::new(),
                ),
                Fate::Pending => (
                    String::new(),
                    String::new(),
                    String::new(),
                    "pending".into(),
                    String::new(),
                ),
            };
            c.row(&[
                &p.event_id,
                kind,
                room,
                sender_server,
                rs,
                rc,
                &ms3(r.sent),
                &sr,
                &cr,
                &lat,
                &path,
                &att,
            ]);
        }
        files.push(("deliveries.csv", c.into_bytes()));
    }
    let mut fed = obs.fed.clone();
    fed.sort_by_key(|a| (a.t, a.origin, a.destination, a.txn_id, a.attempt));
    let mut c = Csv::new(
        "t_ms,origin,destination,txn_id,pdus,sticky_pdus,outcome,retry_after_ms,next_attempt_ms",
    );
    for a in &fed {
        c.row(&[
            &ms3(a.t),
            &w.servers[a.origin as usize].name,
            &w.servers[a.destination as usize].name,
            &a.txn_id.to_string(),
            &a.pdus.to_string(),
            &a.sticky_pdus.to_string(),
            a.outcome.as_str(),
            &a.retry_after.map(ms).unwrap_or_default(),
            &a.next_attempt.map(ms3).unwrap_or_default(),
        ]);
    }
    files.push(("federation.csv", c.into_bytes()));
    let mut c = Csv::new(
        "t_ms,client,room_count,timeline_events,sticky_events,inactionable_sticky,bytes,gappy",
    );
    for s in &obs.syncs {
        c.row(&[
            &ms3(s.t),
            &w.clients[s.client as usize].name,
            &s.room_count.to_string(),
            &s.timeline_events.to_string(),
            &s.sticky_events.to_string(),
            &s.inactionable.to_string(),
            &s.bytes.to_string(),
            if s.gappy { "1" } else { "0" },
        ]);
    }
    files.push(("syncs.csv", c.into_bytes()));
    let mut c = Csv::new("t_ms,room,live_clients,distinct_views,agreeing_pair_fraction");
    for r in &obs.conv {
        c.row(&[
            &ms(r.t),
            &w.rooms[r.room as usize].name,
            &r.live_clients.to_string(),
            &r.distinct_views.to_string(),
            &fixed(r.agreeing_pair_fraction, 4),
        ]);
    }
    files.push(("convergence.csv", c.into_bytes()));
    let mut c = Csv::new("t_ms,server,queue_depth,in_backoff,tokens,deferred");
    for r in &obs.series {
        c.row(&[
            &ms(r.t),
            &w.servers[r.server as usize].name,
            &r.queue_depth.to_string(),
            if r.in_backoff { "1" } else { "0" },
            &fixed(r.tokens, 2),
            &r.deferred.to_string(),
        ]);
    }
    files.push(("timeseries.csv", c.into_bytes()));
    let mut c =
        Csv::new("event_id,room,sender,key,sent_ms,converged_ms,time_to_converge_ms,reached_all");
    let mut writes = obs.writes.clone();
    writes.sort_by(|a, b| {
        (a.sent, &w.pdus[a.pdu as usize].event_id).cmp(&(b.sent, &w.pdus[b.pdu as usize].event_id))
    });
    for x in &writes {
        let p = &w.pdus[x.pdu as usize];
        c.row(&[
            &p.event_id,
            &w.rooms[p.room as usize].name,
            &w.clients[p.sender as usize].name,
            &x.key.sticky_key,
            &ms3(x.sent),
            &x.converged.map(ms3).unwrap_or_default(),
            &x.converged.map(|t| ms3(t - x.sent)).unwrap_or_default(),
            if x.converged.is_some() { "1" } else { "0" },
        ]);
    }
    files.push(("writes.csv", c.into_bytes()));
    if !w.participants.is_empty() {
        let mut c = Csv::new("participant,room,crash_ms,gone_ms,ghost_ms");
        for (pi, (key, t, gone)) in &obs.crashes {
            c.row(&[
                &key.sticky_key,
                &w.rooms[key.room as usize].name,
                &ms3(*t),
                &gone.map(ms3).unwrap_or_default(),
                &gone.map(|g| ms3(g - t)).unwrap_or_default(),
            ]);
            let _ = pi;
        }
        files.push(("ghosts.csv", c.into_bytes()));
    }
    let run_digest = digest(
        &files
            .iter()
            .map(|(n, b)| (*n, b.as_slice()))
            .collect::<Vec<_>>(),
    );

    let checked = expect::check(&scn.file.expect, &metrics);
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
    for (s, ivs) in w.down_intervals.iter().enumerate() {
        for (a, b) in ivs {
            faults.push(json!({"kind": "crash", "servers": [w.servers[s].name], "from_ms": a / 1000, "to_ms": b.unwrap_or(fin.end) / 1000}));
        }
    }
    let servers: Vec<Value> = w
        .servers
        .iter()
        .map(|s| json!({"name": s.name, "policy": serde_json::to_value(s.cfg.inbound.policy).unwrap_or(Value::Null), "catch_up": serde_json::to_value(s.cfg.federation.catch_up).unwrap_or(Value::Null)}))
        .collect();
    let leaves: Vec<f64> = obs.leaves.iter().map(|t| *t as f64 / 1000.0).collect();
    let crashes: Vec<f64> = obs.crashes.values().map(|c| c.1 as f64 / 1000.0).collect();
    let metrics_json: serde_json::Map<String, Value> =
        metrics.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let mut summary = json!({
        "scenario": scn.name(),
        "description": scn.file.simulation.description,
        "scenario_digest": scn.digest(),
        "seed": scn.seed(),
        "version": crate::VERSION,
        "simulated_duration_ms": fin.end / 1000,
        "events": fin.events,
        "wall_s": fin.wall_s,
        "records": if full { "full" } else { "summary" },
        "metrics": metrics_json,
        "expect": checked,
        "annotations": { "faults": faults, "leaves_ms": leaves, "crashes_ms": crashes, "servers": servers },
        "files": files.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "digest": run_digest,
    });
    if let Some(note) = &records_note {
        summary["records_note"] = json!(note);
    }
    if !full {
        summary["histograms"] = json!({ "delivery.latency_ms": computed.latency_hist, "rtc.ghost_ms": computed.ghost_hist });
    }

    write_atomic(dir, "scenario.toml", scn.to_toml().as_bytes())?;
    for (name, bytes) in &files {
        write_atomic(dir, name, bytes)?;
    }
    if w.trace.is_some() {
        // --trace: every message in time order, and the sequence diagram of the first ones.
        let trace = finish_trace(w, scn, obs, fin.end);
        let mut s = String::new();
        for m in &trace {
            s.push_str(&m.to_json().to_string());
            s.push('\n');
        }
        write_atomic(dir, "trace.jsonl", s.as_bytes())?;
        let servers: Vec<String> = w.servers.iter().map(|x| x.name.clone()).collect();
        let clients: Vec<String> = w.clients.iter().map(|x| x.name.clone()).collect();
        let mmd = render(&trace, &servers, &clients, SEQUENCE_CAP);
        write_atomic(dir, "sequence.mmd", mmd.as_bytes())?;
    }
    // summary.json last: its presence marks a complete run folder.
    write_atomic(
        dir,
        "summary.json",
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(RunOutcome {
        out_dir: dir.clone(),
        metrics,
        digest: run_digest,
        failures,
        expectations: checked,
        events: fin.events,
        wall_s: fin.wall_s,
    })
}
