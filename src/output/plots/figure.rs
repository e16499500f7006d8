//! What a plot shows, as plain data: the figure builders compute it from the CSVs, the
//! renderer draws it, and tests check it without looking at pixels.

/// How values on an axis are read and labelled.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisKind {
    /// Milliseconds; ticks say "10 ms", "1 s", "10 min".
    Time,
    /// Counts; integer ticks.
    Count,
    /// 0..1 shown as a percentage.
    Fraction,
    /// Bytes; ticks say "1 kB".
    Bytes,
    /// Any other number.
    Plain,
    /// Named categories at x = 0, 1, 2 ... (string-valued sweep keys).
    Category(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub label: String,
    pub kind: AxisKind,
    pub scale: Scale,
    /// Fixed ends; `None` = from the data.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Axis {
    pub fn new(label: impl Into<String>, kind: AxisKind) -> Axis {
        Axis {
            label: label.into(),
            kind,
            scale: Scale::Linear,
            min: None,
            max: None,
        }
    }
    pub fn log(mut self) -> Axis {
        self.scale = Scale::Log;
        self
    }
    pub fn range(mut self, min: Option<f64>, max: Option<f64>) -> Axis {
        self.min = min;
        self.max = max;
        self
    }
}

/// The colour of a series: an Okabe–Ito palette slot, or the muted grey of "others".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hue {
    Palette(usize),
    Other,
}

/// One kind of mark a series draws.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// Straight segments through (x, y).
    Line(Vec<(f64, f64)>),
    /// A step function: y holds from x until the next point's x.
    Step(Vec<(f64, f64)>),
    /// Dots at (x, y).
    Points(Vec<(f64, f64)>),
    /// Bars from x0 to x1, height y: (x0, x1, y).
    Bars(Vec<(f64, f64, f64)>),
    /// A shaded band (x, lo, hi), e.g. a 95% confidence interval.
    Band(Vec<(f64, f64, f64)>),
    /// Vertical error bars (x, lo, hi).
    ErrorBars(Vec<(f64, f64, f64)>),
    /// Short texts next to points (x, y, text), e.g. which sweep point a dot is.
    Labels(Vec<(f64, f64, String)>),
}

impl Mark {
    pub fn is_empty(&self) -> bool {
        match self {
            Mark::Line(v) | Mark::Step(v) | Mark::Points(v) => v.is_empty(),
            Mark::Bars(v) | Mark::Band(v) | Mark::ErrorBars(v) => v.is_empty(),
            Mark::Labels(v) => v.is_empty(),
        }
    }
    /// Every (x, y) the mark covers, for axis ranges.
    pub fn extent(&self) -> Vec<(f64, f64)> {
        match self {
            Mark::Line(v) | Mark::Step(v) | Mark::Points(v) => v.clone(),
            Mark::Bars(v) => v
                .iter()
                .flat_map(|(a, b, y)| [(*a, 0.0), (*b, *y)])
                .collect(),
            Mark::Band(v) | Mark::ErrorBars(v) => v
                .iter()
                .flat_map(|(x, lo, hi)| [(*x, *lo), (*x, *hi)])
                .collect(),
            Mark::Labels(v) => v.iter().map(|(x, y, _)| (*x, *y)).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text; empty = no legend entry (e.g. the 2nd..nth "others" line).
    pub name: String,
    pub hue: Hue,
    pub marks: Vec<Mark>,
}

impl Series {
    pub fn new(name: impl Into<String>, hue: Hue, marks: Vec<Mark>) -> Series {
        Series {
            name: name.into(),
            hue,
            marks,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.marks.iter().all(Mark::is_empty)
    }
    /// The points of the first line/step/points mark (what tests usually check).
    pub fn points(&self) -> &[(f64, f64)] {
        for m in &self.marks {
            if let Mark::Line(v) | Mark::Step(v) | Mark::Points(v) = m {
                return v;
            }
        }
        &[]
    }
}

/// A shaded x interval (a fault), labelled above the plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Shade {
    pub from: f64,
    pub to: f64,
    pub label: String,
}

/// Vertical marker lines (e.g. times sticky leaves were sent).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Markers {
    pub label: String,
    pub at: Vec<f64>,
    /// Too many for full-height lines: short ticks along the foot of the plot instead.
    pub rug: bool,
}

/// More markers than this are drawn as a rug of short ticks, not full-height lines
/// (thousands of leaves would otherwise paint the plot solid).
pub const MARKER_LINES_MAX: usize = 40;

impl Markers {
    /// Markers at `at`, as lines or, when there are many, as a rug; the legend says which.
    pub fn new(label: &str, at: Vec<f64>) -> Markers {
        let rug = at.len() > MARKER_LINES_MAX;
        let label = if rug {
            format!(
                "{label}\n{} (ticks at the foot)",
                crate::output::plots::format::count(at.len() as f64)
            )
        } else {
            label.to_string()
        };
        Markers { label, at, rug }
    }
}

/// Most fault intervals labelled above a plot; the legend counts the rest.
pub const SHADE_LABELS_MAX: usize = 6;

/// Merges overlapping or adjacent intervals (gaps up to `join` apart) into one band each,
/// labelled with what it merged: `labels` of one band joined by "; ", at most two, then
/// "+k more". Then only the first [`SHADE_LABELS_MAX`] bands keep their label.
pub fn merge_shades(mut v: Vec<Shade>, join: f64) -> Vec<Shade> {
    v.sort_by(|a, b| a.from.total_cmp(&b.from).then(a.to.total_cmp(&b.to)));
    let mut groups: Vec<(f64, f64, Vec<String>)> = vec![];
    for sh in v {
        match groups.last_mut() {
            Some(g) if sh.from <= g.1 + join => {
                g.1 = g.1.max(sh.to);
                if !g.2.contains(&sh.label) {
                    g.2.push(sh.label);
                }
            }
            _ => groups.push((sh.from, sh.to, vec![sh.label])),
        }
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(i, (from, to, labels))| {
            let mut label = join_labels(&labels);
            if i >= SHADE_LABELS_MAX {
                label.clear();
            }
            Shade { from, to, label }
        })
        .collect()
}

/// One label for merged faults: those of one kind share it (`crash hs2, hs4`), at most
/// two kinds and three names each are spelled out, the rest counted (`+2`, `+1 more`).
fn join_labels(labels: &[String]) -> String {
    let mut kinds: Vec<(&str, Vec<&str>)> = vec![];
    for l in labels.iter().filter(|l| !l.is_empty()) {
        let (kind, rest) = l.split_once(' ').unwrap_or((l.as_str(), ""));
        match kinds.iter_mut().find(|k| k.0 == kind) {
            Some(k) => k.1.push(rest),
            None => kinds.push((kind, vec![rest])),
        }
    }
    let mut parts: Vec<String> = kinds
        .iter()
        .take(2)
        .map(|(kind, rests)| {
            let names: Vec<&str> = rests.iter().filter(|r| !r.is_empty()).copied().collect();
            let mut t = kind.to_string();
            if !names.is_empty() {
                t.push(' ');
                t.push_str(&super::format::first_names(&names, 3));
            }
            t
        })
        .collect();
    if kinds.len() > 2 {
        parts.push(format!("+{} more", kinds.len() - 2));
    }
    parts.join("; ")
}

/// The legend entry of a panel's fault bands, counting those left unlabelled.
pub fn shade_legend(shades: &[Shade]) -> String {
    let unlabelled = shades.iter().skip(SHADE_LABELS_MAX).count();
    if unlabelled > 0 {
        format!(
            "fault interval\n{} bands, {unlabelled} unlabelled",
            shades.len()
        )
    } else {
        "fault interval".into()
    }
}

/// Lines that coincide exactly (same marks) would hide one another: the first keeps a
/// legend entry naming all of them (`A = B`, details kept when they differ), the others
/// are dropped. Grey "others" and unnamed lines are left alone.
pub fn note_coinciding(series: &mut Vec<Series>) {
    let mut i = 0;
    while i < series.len() {
        let named = |s: &Series| !s.name.is_empty() && s.hue != Hue::Other && !s.is_empty();
        if !named(&series[i]) {
            i += 1;
            continue;
        }
        let mut same = vec![];
        for j in i + 1..series.len() {
            if named(&series[j]) && series[j].marks == series[i].marks {
                same.push(j);
            }
        }
        if !same.is_empty() {
            let split = |n: &str| {
                let mut it = n.splitn(2, '\n');
                (
                    it.next().unwrap_or("").to_string(),
                    it.next().map(str::to_string),
                )
            };
            let mut heads = vec![];
            let mut details: Vec<String> = vec![];
            for k in std::iter::once(i).chain(same.iter().copied()) {
                let (h, d) = split(&series[k].name);
                heads.push(h);
                if let Some(d) = d {
                    if !details.contains(&d) {
                        details.push(d);
                    }
                }
            }
            let mut name = heads.join(" = ");
            if !details.is_empty() {
                name.push('\n');
                name.push_str(&details.join("; "));
            }
            series[i].name = name;
            for j in same.into_iter().rev() {
                series.remove(j);
            }
        }
        i += 1;
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// A short heading over this panel (figures with two panels).
    pub title: Option<String>,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub shades: Vec<Shade>,
    /// Legend text for the shades ("fault").
    pub shade_label: String,
    pub markers: Markers,
    /// Shown centred in the plot when there is nothing to draw: what is missing and why.
    pub note: Option<String>,
}

impl Panel {
    pub fn new(x: Axis, y: Axis) -> Panel {
        Panel {
            title: None,
            x,
            y,
            series: vec![],
            shades: vec![],
            shade_label: String::new(),
            markers: Markers::default(),
            note: None,
        }
    }
    pub fn has_data(&self) -> bool {
        self.series.iter().any(|s| !s.is_empty())
    }
    pub fn series_named(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File stem: `latency_cdf` -> `plots/latency_cdf.svg` and `.png`.
    pub name: String,
    pub title: String,
    /// One or two short lines under the plot saying what is drawn and how to read it.
    pub caption: String,
    pub panels: Vec<Panel>,
}

impl Figure {
    /// The figure without the panels that have nothing to draw (`None` when no panel is
    /// left), and for each panel left out, what it was and why (its note).
    pub fn without_empty_panels(mut self) -> (Option<Figure>, Vec<(String, String)>) {
        let why = |p: &Panel| p.note.clone().unwrap_or_else(|| "no data".into());
        if self.panels.iter().all(|p| !p.has_data()) {
            let reasons: Vec<String> = self.panels.iter().map(why).collect();
            return (None, vec![(format!("`{}`", self.name), reasons.join(" "))]);
        }
        let mut gone = vec![];
        for p in self.panels.iter().filter(|p| !p.has_data()) {
            let title = p.title.clone().unwrap_or_else(|| self.title.clone());
            self.caption
                .push_str(&format!(" Panel \"{title}\" left out: {}", why(p)));
            gone.push((format!("`{}` panel \"{title}\"", self.name), why(p)));
        }
        self.panels.retain(Panel::has_data);
        (Some(self), gone)
    }

    /// Notes of panels with nothing to draw.
    pub fn notes(&self) -> Vec<&str> {
        self.panels
            .iter()
            .filter_map(|p| p.note.as_deref())
            .collect()
    }
}

/// Most lines a legend shows before folding the rest into "others".
pub const LEGEND_CAP: usize = 7;

/// Most lines a half-height panel's legend shows (two-panel figures).
pub const LEGEND_CAP_SMALL: usize = 5;

/// Turns many named lines into at most `cap` legend entries: the highest `score` first
/// (ties by name) in colour, and when there are more, `cap - 1` coloured plus grey
/// "k other …" lines with one legend entry.
pub fn cap_series(mut items: Vec<(String, f64, Vec<Mark>)>, what: &str, cap: usize) -> Vec<Series> {
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let n = items.len();
    let cap = cap.max(2);
    let keep = if n > cap { cap - 1 } else { n };
    let mut out = vec![];
    let mut rest = items.split_off(keep);
    // Grey lines first so the coloured ones are drawn over them.
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    let k = rest.len();
    for (i, (_, _, marks)) in rest.into_iter().enumerate() {
        let name = if i == 0 {
            format!("{k} other {what}")
        } else {
            String::new()
        };
        out.push(Series::new(name, Hue::Other, marks));
    }
    for (i, (name, _, marks)) in items.into_iter().enumerate() {
        out.push(Series::new(name, Hue::Palette(i), marks));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(from: f64, to: f64, label: &str) -> Shade {
        Shade {
            from,
            to,
            label: label.into(),
        }
    }

    #[test]
    fn overlapping_and_adjacent_faults_are_one_band() {
        let merged = merge_shades(
            vec![
                sh(600.0, 2400.0, "partition hs7"),
                sh(1500.0, 1800.0, "client_offline hs15/2, hs17/0 +1"),
                sh(5.0, 100.0, "crash hs2"),
                sh(5.0, 100.0, "crash hs4"),
                // 10 apart, with `join` 10: adjacent.
                sh(110.0, 200.0, "crash hs5"),
                sh(3000.0, 3100.0, "link hs1–hs2"),
            ],
            10.0,
        );
        assert_eq!(
            merged,
            vec![
                sh(5.0, 200.0, "crash hs2, hs4, hs5"),
                sh(
                    600.0,
                    2400.0,
                    "partition hs7; client_offline hs15/2, hs17/0 +1"
                ),
                sh(3000.0, 3100.0, "link hs1–hs2"),
            ]
        );
    }

    #[test]
    fn labels_are_capped_and_counted() {
        // Ten separate crashes of one server each: six labels, four counted in the legend.
        let raw: Vec<Shade> = (0..10)
            .map(|i| {
                sh(
                    i as f64 * 100.0,
                    i as f64 * 100.0 + 10.0,
                    &format!("crash hs{i}"),
                )
            })
            .collect();
        let merged = merge_shades(raw, 1.0);
        assert_eq!(merged.len(), 10);
        let labelled: Vec<&str> = merged
            .iter()
            .filter(|s| !s.label.is_empty())
            .map(|s| s.label.as_str())
            .collect();
        assert_eq!(
            labelled,
            [
                "crash hs0",
                "crash hs1",
                "crash hs2",
                "crash hs3",
                "crash hs4",
                "crash hs5"
            ]
        );
        assert_eq!(
            shade_legend(&merged),
            "fault interval\n10 bands, 4 unlabelled"
        );
        assert_eq!(shade_legend(&merged[..3]), "fault interval");
        // Many servers of one kind, and more than two kinds, in one band.
        let one = merge_shades(
            vec![
                sh(0.0, 10.0, "crash hs1"),
                sh(0.0, 10.0, "crash hs2"),
                sh(0.0, 10.0, "crash hs3"),
                sh(0.0, 10.0, "crash hs4"),
                sh(0.0, 10.0, "partition hs9"),
                sh(0.0, 10.0, "link hs1–hs2"),
            ],
            0.0,
        );
        assert_eq!(
            one[0].label,
            "crash hs1, hs2, hs3 +1; partition hs9; +1 more"
        );
    }

    #[test]
    fn many_markers_become_a_rug() {
        let few = Markers::new("sticky leave sent", vec![1.0; MARKER_LINES_MAX]);
        assert!(!few.rug);
        assert_eq!(few.label, "sticky leave sent");
        let many = Markers::new("sticky leave sent", vec![1.0; 5000]);
        assert!(many.rug);
        assert_eq!(many.label, "sticky leave sent\n5,000 (ticks at the foot)");
    }

    #[test]
    fn identical_lines_share_one_legend_entry() {
        let step = |y: f64| vec![Mark::Step(vec![(0.0, y), (10.0, y)])];
        let mut v = vec![
            Series::new("429 rate_limited (none)", Hue::Palette(1), step(0.0)),
            Series::new("timeout (none)", Hue::Palette(3), step(0.0)),
            Series::new("room a\n3 views", Hue::Palette(0), step(1.0)),
            Series::new("room b\n3 views", Hue::Palette(2), step(1.0)),
            Series::new("room c\n4 views", Hue::Palette(4), step(1.0)),
            Series::new("5 other rooms", Hue::Other, step(1.0)),
            Series::new("different", Hue::Palette(5), step(2.0)),
        ];
        note_coinciding(&mut v);
        let names: Vec<&str> = v.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "429 rate_limited (none) = timeout (none)",
                "room a = room b = room c\n3 views; 4 views",
                "5 other rooms",
                "different"
            ]
        );
    }
}
