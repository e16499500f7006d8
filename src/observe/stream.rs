//! The big CSV files of a run (federation, syncs, convergence, timeseries) written row by
//! row while the run goes, to temporary files in the run folder (docs/performance.md
//! "Streaming the big CSV files"): no row and no CSV text of them is kept in memory. The
//! run hands its rows over in batches; a writer thread formats and writes them ("A writer
//! thread"), so a 2-core machine formats 10 M rows beside the simulation, not in it.
//! A run that stops early drops its [`Streams`], which removes the temporary files; a
//! finished run hands them to `run::write`, which digests and renames them.

use super::recorder::{ConvRow, SendRow, SeriesRow, SyncRow};
use super::tables::{
    convergence_row, federation_row, syncs_row, timeseries_row, FEDERATION_HEADER,
};
use crate::kernel::Time;
use crate::matrix::world::World;
use crate::matrix::ServerId;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where a run's streamed CSV files go.
#[derive(Clone, Copy, Debug)]
pub enum StreamTo<'a> {
    /// Nowhere (`run::simulate`: only the metrics' running totals are kept).
    Nowhere,
    /// Temporary files in the run folder.
    Folder(&'a Path),
    /// Memory, federation.csv sorted once at the end, as before streaming (tests compare
    /// it with a folder's files).
    Memory,
}

/// One CSV written as it grows: to a temporary file beside its final name, to memory, or
/// nowhere.
#[derive(Default)]
pub struct CsvStream {
    out: Option<(Sink, &'static str)>,
    /// The current row's text, reused.
    line: String,
    /// The first write error, reported when the run is written.
    failed: Option<String>,
}

enum Sink {
    File(BufWriter<File>, Staged),
    Memory(Vec<u8>),
}

/// A finished CSV file of a run: built in memory, or streamed to a temporary file.
pub enum CsvFile {
    Memory(&'static str, Vec<u8>),
    Streamed(Staged),
}

impl CsvFile {
    pub fn name(&self) -> &'static str {
        match self {
            CsvFile::Memory(n, _) => n,
            CsvFile::Streamed(s) => s.name,
        }
    }
}

/// A finished temporary file: renamed to its final name by [`Staged::commit`], removed
/// when dropped before that.
pub struct Staged {
    pub name: &'static str,
    pub tmp: PathBuf,
    pub len: u64,
}

impl Staged {
    /// Rename to `dir/name`.
    pub fn commit(mut self, dir: &Path) -> anyhow::Result<()> {
        let to = dir.join(self.name);
        std::fs::rename(&self.tmp, &to)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", to.display()))?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A temporary name for `name` in `dir`, of the form [`crate::output::lock::is_temporary`]
/// recognises (a killed run's leftovers are removed by the next run).
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()))
}

impl CsvStream {
    /// A stream for `name` with its header line.
    pub fn open(to: StreamTo<'_>, name: &'static str, header: &str) -> anyhow::Result<Self> {
        let mut s = CsvStream::default();
        match to {
            StreamTo::Nowhere => {}
            StreamTo::Folder(dir) => {
                let tmp = temp_path(dir, name);
                let f = File::create(&tmp)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
                let staged = Staged { name, tmp, len: 0 };
                s.out = Some((
                    Sink::File(BufWriter::with_capacity(1 << 20, f), staged),
                    name,
                ));
            }
            StreamTo::Memory => s.out = Some((Sink::Memory(vec![]), name)),
        }
        s.line.push_str(header);
        s.line.push('\n');
        s.emit();
        Ok(s)
    }

    /// Append one row, built by `fill` into the (cleared) line buffer.
    pub fn row(&mut self, fill: impl FnOnce(&mut String)) {
        if self.out.is_none() {
            return;
        }
        fill(&mut self.line);
        self.emit();
    }

    fn emit(&mut self) {
        match &mut self.out {
            Some((Sink::File(w, staged), _)) if self.failed.is_none() => {
                match w.write_all(self.line.as_bytes()) {
                    Ok(()) => staged.len += self.line.len() as u64,
                    Err(e) => self.failed = Some(format!("{}: {e}", staged.tmp.display())),
                }
            }
            Some((Sink::Memory(v), _)) => v.extend_from_slice(self.line.as_bytes()),
            _ => {}
        }
        self.line.clear();
    }

    /// Flush and close the file (`None` for a stream to nowhere).
    pub fn finish(self) -> anyhow::Result<Option<CsvFile>> {
        if let Some(e) = self.failed {
            anyhow::bail!("cannot write {e}");
        }
        match self.out {
            None => Ok(None),
            Some((Sink::Memory(v), name)) => Ok(Some(CsvFile::Memory(name, v))),
            Some((Sink::File(w, staged), _)) => {
                let f = w
                    .into_inner()
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", staged.tmp.display()))?;
                f.sync_all().ok();
                Ok(Some(CsvFile::Streamed(staged)))
            }
        }
    }
}

/// federation.csv in (start, origin, destination, txn, attempt) order although an attempt
/// is reported when it ends: rows wait in a buffer until no attempt can start before them.
/// An attempt's row carries its start (`InFlight::attempt_started`); one still open is in
/// some server's `in_flight` (not waiting for a retry timer), and one not yet started will
/// start at the current time or later. So a row that starts before both the current time
/// and every open attempt's start is final.
#[derive(Default)]
pub struct FedStream {
    /// Rows by their sort key, then arrival (the sort was stable).
    buf: BTreeMap<(Time, ServerId, ServerId, u64, u32, u64), SendRow>,
    seq: u64,
    /// Rows starting before this were written.
    written_below: Time,
    /// A row came that starts before one already written (a broken bound: an error).
    late: Option<Time>,
    /// Buffer size that triggers a flush between samples.
    check_at: usize,
    /// Keep every row to the end (memory: the sort as before streaming).
    hold_all: bool,
}

/// Buffered federation rows that make [`Streams::tick`] look for final rows.
const FED_CHECK_ROWS: usize = 1 << 16;

impl FedStream {
    fn push(&mut self, row: SendRow) {
        if row.t < self.written_below {
            self.late.get_or_insert(row.t);
        }
        let key = (
            row.t,
            row.origin,
            row.destination,
            row.txn_id,
            row.attempt,
            self.seq,
        );
        self.seq += 1;
        self.buf.insert(key, row);
    }

    /// The rows that start before `below`, in order, to `out`.
    fn write_below(&mut self, out: &mut Writer, below: Time) {
        while let Some(e) = self.buf.first_entry() {
            if e.key().0 >= below {
                break;
            }
            out.push(Row::Fed(e.remove()));
        }
        self.written_below = self.written_below.max(below);
    }
}

/// One row of a streamed file, as the observer made it: the writer thread formats it.
pub enum Row {
    Fed(SendRow),
    Sync(SyncRow),
    Conv(ConvRow),
    Series(SeriesRow),
}

/// The names the rows' ids stand for (copied once for the writer thread).
pub struct Names {
    pub servers: Vec<String>,
    pub clients: Vec<String>,
    pub rooms: Vec<String>,
}

impl Names {
    pub fn of(w: &World) -> Names {
        let dir = &w.sh.dir;
        Names {
            servers: dir.servers.iter().cloned().collect(),
            clients: dir.clients.iter().map(|c| c.name.clone()).collect(),
            rooms: dir.rooms.iter().map(|r| r.name.clone()).collect(),
        }
    }
}

/// Rows per message to the writer thread.
const BATCH_ROWS: usize = 4096;
/// Batches in flight to the writer thread (the run waits when it is this far behind).
const BATCHES_IN_FLIGHT: usize = 8;

/// The four files' rows on their way to a thread that formats and writes them (docs/
/// performance.md "A writer thread"): the run's own thread only hands rows over, in
/// batches. One thread writes every row in the order it was handed over, so the files are
/// byte for byte what one thread would write.
#[derive(Default)]
struct Writer {
    batch: Vec<Row>,
    to: Option<std::sync::mpsc::SyncSender<Vec<Row>>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<Vec<CsvFile>>>>,
}

impl Writer {
    fn start(files: [CsvStream; 4], names: Names) -> Writer {
        let (to, from) = std::sync::mpsc::sync_channel::<Vec<Row>>(BATCHES_IN_FLIGHT);
        let thread = std::thread::spawn(move || {
            let [mut fed, mut syncs, mut conv, mut series] = files;
            for batch in from {
                for row in batch {
                    match row {
                        Row::Fed(r) => fed.row(|l| federation_row(l, &r, &names)),
                        Row::Sync(r) => syncs.row(|l| syncs_row(l, &r, &names)),
                        Row::Conv(r) => conv.row(|l| convergence_row(l, &r, &names)),
                        Row::Series(r) => series.row(|l| timeseries_row(l, &r, &names)),
                    }
                }
            }
            let mut out = vec![];
            for f in [fed, syncs, conv, series] {
                out.extend(f.finish()?);
            }
            Ok(out)
        });
        Writer {
            batch: Vec::with_capacity(BATCH_ROWS),
            to: Some(to),
            thread: Some(thread),
        }
    }

    fn active(&self) -> bool {
        self.to.is_some()
    }

    fn push(&mut self, row: Row) {
        if !self.active() {
            return;
        }
        self.batch.push(row);
        if self.batch.len() >= BATCH_ROWS {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_ROWS));
        if let Some(to) = &self.to {
            // A closed channel means the thread stopped (a panic): `finish` reports it.
            let _ = to.send(batch);
        }
    }

    /// Hand over the last rows: the thread writes them and ends.
    fn close(&mut self) {
        if !self.batch.is_empty() {
            self.send();
        }
        self.to = None;
    }

    /// Hand over the last rows, wait for the thread, and take its files.
    fn finish(&mut self) -> anyhow::Result<Vec<CsvFile>> {
        self.close();
        match self.thread.take() {
            None => Ok(vec![]),
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("internal error: the CSV writer thread panicked"))?,
        }
    }
}

impl Drop for Writer {
    /// A run that stops early: the thread finishes, and dropping its files removes them
    /// before the run's error is reported.
    fn drop(&mut self) {
        self.batch.clear();
        let _ = self.finish();
    }
}

/// The four streamed files of a run, in the digest's order.
#[derive(Default)]
pub struct Streams {
    fed: FedStream,
    out: Writer,
}

impl Streams {
    /// Streams to `to`; `w`: the world whose names the rows carry.
    pub fn open(to: StreamTo<'_>, w: &World) -> anyhow::Result<Streams> {
        use super::tables::{CONVERGENCE_HEADER, SYNCS_HEADER, TIMESERIES_HEADER};
        if matches!(to, StreamTo::Nowhere) {
            return Ok(Streams::default());
        }
        let files = [
            CsvStream::open(to, "federation.csv", FEDERATION_HEADER)?,
            CsvStream::open(to, "syncs.csv", SYNCS_HEADER)?,
            CsvStream::open(to, "convergence.csv", CONVERGENCE_HEADER)?,
            CsvStream::open(to, "timeseries.csv", TIMESERIES_HEADER)?,
        ];
        Ok(Streams {
            fed: FedStream {
                hold_all: matches!(to, StreamTo::Memory),
                ..Default::default()
            },
            out: Writer::start(files, Names::of(w)),
        })
    }

    /// A `/send` attempt's row (written once no attempt can start before it).
    pub fn fed(&mut self, row: SendRow) {
        if self.out.active() {
            self.fed.push(row);
        }
    }

    pub fn sync(&mut self, row: SyncRow) {
        self.out.push(Row::Sync(row));
    }

    pub fn conv(&mut self, row: ConvRow) {
        self.out.push(Row::Conv(row));
    }

    pub fn series(&mut self, row: SeriesRow) {
        self.out.push(Row::Series(row));
    }

    /// After a step at `now`: write the final federation rows when their buffer has grown.
    pub fn tick(&mut self, w: &World, now: Time) {
        let f = &self.fed;
        if !f.hold_all && f.buf.len() >= f.check_at.max(FED_CHECK_ROWS) {
            self.flush(w, now);
            self.fed.check_at = (2 * self.fed.buf.len()).max(FED_CHECK_ROWS);
        }
    }

    /// Write every federation row that starts before `now` and before every open attempt.
    pub fn flush(&mut self, w: &World, now: Time) {
        if self.fed.hold_all || self.fed.buf.is_empty() {
            return;
        }
        let open = w
            .servers
            .iter()
            .flat_map(|s| s.dests.values())
            .filter_map(|d| d.in_flight.as_ref())
            .filter(|f| !f.waiting_retry)
            .map(|f| f.attempt_started)
            .min();
        let below = open.map_or(now, |o| o.min(now));
        self.fed.write_below(&mut self.out, below);
    }

    /// The run is over: hand the last rows over (the writer thread writes them while the
    /// caller computes its metrics). No row may come after this.
    pub fn end_input(&mut self) -> anyhow::Result<()> {
        self.fed.write_below(&mut self.out, Time::MAX);
        if let Some(t) = self.fed.late {
            anyhow::bail!(
                "internal error: a federation.csv row starting at {} ms came after later rows were written",
                crate::kernel::time::to_ms(t)
            );
        }
        self.out.close();
        Ok(())
    }

    /// Close every file: federation.csv, syncs.csv, convergence.csv, timeseries.csv
    /// (none for streams to nowhere).
    pub fn finish(mut self) -> anyhow::Result<Vec<CsvFile>> {
        self.end_input()?;
        self.out.finish()
    }
}
