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
