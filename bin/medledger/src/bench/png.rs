//! `--plot FILE.png`: the same two charts as the SVG (committed tx/s, and submit-to-commit
//! latency p50/p99, per second of the run), drawn with plotters into a PNG.
//!
//! Text goes through plotters' pure-Rust ab_glyph renderer, which has no font of its own: a
//! system font is loaded once at run time (the repository ships none), and a machine without
//! one gets an error naming the package to install instead of a chart without labels.

use super::report::{Report, Second};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SIZE: (u32, u32) = (1200, 700);
/// The SVG's colours, so both outputs read the same.
const BLUE: RGBColor = RGBColor(0x1f, 0x6f, 0xeb);
const RED: RGBColor = RGBColor(0xd1, 0x24, 0x2f);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
/// The family plotters asks for (`("sans-serif", size)` below) and we register.
const FAMILY: &str = "sans-serif";

/// Where common distributions keep a plain sans-serif TrueType font.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
];

/// No usable font on this machine: PNG text cannot be drawn.
#[derive(Debug, Clone)]
pub struct NoFont;

impl fmt::Display for NoFont {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--plot FILE.png needs a TrueType font and none was found (looked in {} and asked \
             fc-match); install one, e.g. `apt-get install fonts-dejavu-core` on Debian/Ubuntu \
             or `dnf install dejavu-sans-fonts` on Fedora, or write an SVG with --plot FILE.svg",
            FONT_PATHS.join(", ")
        )
    }
}

impl std::error::Error for NoFont {}

/// Candidate font files: the known paths that exist, then what fontconfig (if installed)
/// picks for sans-serif.
fn font_candidates() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> =
        FONT_PATHS.iter().map(PathBuf::from).filter(|p| p.is_file()).collect();
    if let Ok(out) = std::process::Command::new("fc-match").args(["-f", "%{file}", FAMILY]).output()
        && out.status.success()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if path.is_file() && !found.contains(&path) {
            found.push(path);
        }
    }
    found
}

/// Registers a system font as plotters' "sans-serif", once per process. The bytes are leaked
/// because plotters keeps a `'static` reference to them for the rest of the process.
pub fn ensure_font() -> Result<(), NoFont> {
    static REGISTERED: OnceLock<Result<PathBuf, NoFont>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for path in font_candidates() {
                let Ok(bytes) = std::fs::read(&path) else { continue };
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                // A file that does not parse (an odd format) is skipped for the next one.
                if register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                    return Ok(path);
                }
            }
            Err(NoFont)
        })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

/// The chart's title, in the SVG's wording.
fn title(report: &Report) -> String {
    format!(
        "medledger bench: {} workload, {} validators, {} cores, {}",
        report.workload, report.validators, report.cores, report.mode
    )
}

/// An axis label: whole numbers as such, fractions (on the axes of an empty or near-empty
/// run, 0 to 1) with up to two decimals.
fn tick(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Writes the report's per-second series as a PNG to `path` (which should end in `.png`: the
/// encoder goes by the extension).
pub fn png(report: &Report, path: &Path) -> anyhow::Result<()> {
    draw(&title(report), &report.series, path)
}

/// Draws `series` under `title` into the PNG at `path`. Apart from [`png`] so that tests can
/// draw without a whole [`Report`] (whose resource figures only a live network gives).
fn draw(title: &str, series: &[Second], path: &Path) -> anyhow::Result<()> {
    ensure_font()?;
    // Points sit in the middle of their second, as in the SVG; the axis covers whole seconds.
    let seconds = series.last().map_or(1.0, |s| s.second as f64 + 1.0);
    let at = |s: &Second| s.second as f64 + 0.5;
    let tps: Vec<(f64, f64)> = series.iter().map(|s| (at(s), s.committed as f64)).collect();
    let p50: Vec<(f64, f64)> = series.iter().map(|s| (at(s), s.p50_ms)).collect();
    let p99: Vec<(f64, f64)> = series.iter().map(|s| (at(s), s.p99_ms)).collect();
    // Headroom above the highest point; at least 1 so an empty or all-zero run has an axis.
    let top = |points: &[(f64, f64)]| points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let no_data = if series.is_empty() { " (no data)" } else { "" };
    // Markers as well as lines while they stay apart, so a run of a second or two still shows
    // its points; over a long run they would only blur the line.
    let marker = if series.len() <= 120 { 3 } else { 0 };

    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(&format!("{title}{no_data}"), (FAMILY, 22))?;
    let (upper, lower) = root.split_vertically(SIZE.1 / 2 - 20);
    let panels = [
        (&upper, "committed transactions per second", "tx/s", vec![("tx/s", BLUE, &tps)]),
        (&lower, "submit → commit latency", "ms", vec![("p50", BLUE, &p50), ("p99", RED, &p99)]),
    ];
    for (area, caption, unit, lines) in panels {
        let max = lines.iter().map(|(_, _, points)| top(points)).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FAMILY, 17))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..seconds, 0.0..max)?;
        chart
            .configure_mesh()
            .light_line_style(GRID.mix(0.3))
            .bold_line_style(GRID)
            .x_desc("seconds since start")
            .y_desc(unit)
            .x_label_formatter(&|x| tick(*x))
            .y_label_formatter(&|y| tick(*y))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()?;
        for (_, color, points) in &lines {
            chart.draw_series(
                LineSeries::new(points.iter().copied(), color.stroke_width(2)).point_size(marker),
            )?;
        }
        // The legend sits in the caption's band at the right, as in the SVG: inside the plot
        // it would hide the newest seconds of a run at its peak.
        let (width, _) = area.dim_in_pixel();
        let right = i32::try_from(width).expect("a 1200-pixel image's width fits i32") - 30;
        for (i, (name, color, _)) in lines.iter().rev().enumerate() {
            let x = right - 80 * (i32::try_from(i).expect("two lines at most") + 1);
            area.draw(&PathElement::new([(x, 19), (x + 24, 19)], color.stroke_width(3)))?;
            area.draw(&Text::new(*name, (x + 30, 14), (FAMILY, 15).into_font().color(color)))?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file for one test, removed when dropped.
    struct TempPng(PathBuf);

    impl TempPng {
        fn new(name: &str) -> Self {
            Self(
                std::env::temp_dir()
                    .join(format!("medledger-plot-{name}-{}.png", std::process::id())),
            )
        }
    }

    impl Drop for TempPng {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A minute of a plausible run: a ramp, a plateau with some noise, a drain.
    fn series() -> Vec<Second> {
        (0..60u64)
            .map(|second| {
                let committed = match second {
                    0..=4 => 400 * second,
                    5..=54 => 2_000 + (second * 37) % 300,
                    _ => 2_000 - 350 * (second - 54),
                };
                let p50 = 120.0 + ((second * 13) % 40) as f64;
                Second {
                    second,
                    committed,
                    p50_ms: p50,
                    p99_ms: p50 * 2.5 + (second % 7) as f64 * 20.0,
                }
            })
            .collect()
    }

    /// Draws, or says why a machine without a font skips (only for that reason).
    fn draw_or_skip(series: &[Second], path: &Path) -> Option<Vec<u8>> {
        match draw(TITLE, series, path) {
            Ok(()) => Some(std::fs::read(path).expect("the PNG just written is readable")),
            Err(e) if e.is::<NoFont>() => {
                eprintln!("skipped: {e}");
                None
            }
            Err(e) => panic!("drawing the PNG: {e:#}"),
        }
    }

    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    /// What [`title`] gives for a typical run.
    const TITLE: &str =
        "medledger bench: claims workload, 4 validators, 2 cores, closed loop (peak)";

    #[test]
    fn png_of_a_series_is_a_png() {
        let file = TempPng::new("series");
        let Some(bytes) = draw_or_skip(&series(), &file.0) else { return };
        assert!(bytes.starts_with(SIGNATURE), "PNG signature");
        assert!(bytes.len() > 5_000, "a chart with text, not a blank image: {} bytes", bytes.len());
    }

    #[test]
    fn png_of_an_empty_series_is_a_png() {
        let file = TempPng::new("empty");
        let Some(bytes) = draw_or_skip(&[], &file.0) else { return };
        assert!(bytes.starts_with(SIGNATURE), "PNG signature");
        assert!(bytes.len() > 5_000, "axes and titles: {} bytes", bytes.len());
    }

    #[test]
    fn png_of_one_second_is_a_png() {
        let file = TempPng::new("one");
        let one = [Second { second: 0, committed: 0, p50_ms: 0.0, p99_ms: 0.0 }];
        let Some(bytes) = draw_or_skip(&one, &file.0) else { return };
        assert!(bytes.starts_with(SIGNATURE), "PNG signature");
    }

    #[test]
    fn ticks_are_whole_numbers_unless_fractional() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(2_500.0), "2500");
        assert_eq!(tick(100.0), "100");
        assert_eq!(tick(0.2), "0.2");
        assert_eq!(tick(0.25), "0.25");
    }

    #[test]
    fn a_font_is_found_where_dejavu_is_installed() {
        // The machines this project builds on have DejaVu; there the PNG must really be drawn.
        if Path::new(FONT_PATHS[0]).is_file() {
            ensure_font().expect("DejaVu Sans registers");
        }
    }

    /// Not a test: draws a sample for a person to look at,
    /// `MEDLEDGER_PLOT_SAMPLE=/tmp/x.png cargo test -p medledger --bin medledger png_sample -- --ignored`.
    #[test]
    #[ignore = "writes a sample PNG for inspection"]
    fn png_sample() {
        let path = std::env::var_os("MEDLEDGER_PLOT_SAMPLE")
            .map_or_else(|| std::env::temp_dir().join("bench-sample.png"), PathBuf::from);
        draw(TITLE, &series(), &path).expect("sample drawn");
        eprintln!("sample written to {}", path.display());
    }
}
