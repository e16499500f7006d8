//! Small generated scenarios run end to end in-process: any bytes pick a few servers,
//! clients, rooms, workloads and faults, a short duration and tight limits (a time and
//! memory cap through `--max-events` / `--max-memory`). The run must not panic; a run that
//! finishes must finish the same way twice (same event count, same digest).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stickysim::observe::stream::{CsvFile, StreamTo};
use stickysim::run::{simulate_limited, Guards};
use stickysim::scenario::estimate::Limits;

/// The bytes as a stream of small choices (0 when they run out).
struct Pick<'a>(&'a [u8]);

impl Pick<'_> {
    fn next(&mut self, n: u8) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                b % n.max(1)
            }
            None => 0,
        }
    }
}

fn scenario(data: &[u8]) -> String {
    let mut p = Pick(data);
    let servers = 1 + p.next(4);
    let clients = p.next(4);
    let duration = [10, 60, 300, 900][p.next(4) as usize];
    let seed = u64::from(p.next(255));
    let latency = [
        "{ dist = \"constant\", value = \"0ms\" }",
        "{ dist = \"lognormal\", median = \"60ms\", sigma = 0.6 }",
        "{ dist = \"uniform\", min = \"1ms\", max = \"2s\" }",
    ][p.next(3) as usize];
    let loss = [0.0, 0.01, 0.5][p.next(3) as usize];
    let policy = ["reject_429", "accept_drop", "defer", "unlimited"][p.next(4) as usize];
    let mut t = format!(
        "[simulation]\nname = \"fuzz\"\nseed = {seed}\nduration = \"{duration}s\"\nsample_interval = \"{}s\"\n\
         [network]\nlatency = {latency}\nloss = {loss}\n\
         [servers]\ncount = {servers}\n[servers.defaults]\nclients_per_server = {clients}\n\
         inbound = {{ policy = \"{policy}\" }}\n\
         [[rooms]]\nname = \"r\"\nservers = \"all\"\n",
        1 + p.next(10)
    );
    for _ in 0..p.next(4) {
        match p.next(3) {
            0 => t.push_str(&format!(
                "[[workload]]\nkind = \"matrixrtc\"\nroom = \"r\"\nparticipants = {}\ncrash_fraction = 0.{}\n\
                 heartbeat = {{ leave_delay = \"{}s\", restart_every = \"{}s\" }}\n",
                p.next(6),
                p.next(10),
                1 + p.next(20),
                1 + p.next(20)
            )),
            1 => t.push_str(&format!(
                "[[workload]]\nkind = \"location\"\nroom = \"r\"\nsharers = {}\nupdate_every = \"{}s\"\n",
                p.next(4),
                1 + p.next(30)
            )),
            _ => t.push_str(&format!(
                "[[workload]]\nkind = \"spam\"\nroom = \"r\"\nclient = \"hs1/0\"\nrate = {}\ncount = {}\n",
                1 + p.next(50),
                p.next(200)
            )),
        }
    }
    if servers > 1 && p.next(2) == 1 {
        t.push_str(&format!(
            "[[fault]]\nkind = \"partition\"\nservers = [\"hs2\"]\nfrom = \"{}s\"\nto = \"{}s\"\n",
            p.next(5),
            5 + p.next(5)
        ));
    }
    t
}

fuzz_target!(|data: &[u8]| {
    let text = scenario(data);
    // Invalid choices (a spam client on a server without clients, ...) are refused: fine.
    let Ok(scn) = stickysim::scenario::load_str(&text, "fuzz.toml", &[]) else {
        return;
    };
    let limits = Limits {
        max_memory_bytes: 2 << 30,
        max_events: 2_000_000,
    };
    if stickysim::scenario::commands::check_size(&scn, &limits).is_err() {
        return;
    }
    let guards = Guards {
        livelock_events: Some(100_000),
        limits,
        verify_views: true,
    };
    // Every CSV of the run, kept in memory: the streamed ones and those built at the end.
    let run = || {
        let mut f = simulate_limited(&scn, false, false, false, &guards, StreamTo::Memory).ok()?;
        let streamed = std::mem::take(&mut f.observer.streams).finish().ok()?;
        let (_, writes, ghosts) =
            stickysim::observe::tables::in_memory(&f.observer, &f.world, None);
        let mut files: Vec<(&str, Vec<u8>)> = streamed
            .into_iter()
            .filter_map(|c| match c {
                CsvFile::Memory(n, b) => Some((n, b)),
                CsvFile::Streamed(_) => None,
            })
            .collect();
        files.push(("writes.csv", writes));
        files.extend(ghosts.map(|g| ("ghosts.csv", g)));
        let named: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        Some((f.events, stickysim::output::files::digest(&named)))
    };
    let first = run();
    assert_eq!(
        first,
        run(),
        "the same scenario ran differently twice:\n{text}"
    );
});
