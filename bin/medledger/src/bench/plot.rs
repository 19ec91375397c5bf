//! `--plot`: committed transactions per second and submit-to-commit latency over the run, as
//! a PNG (`FILE.png`, drawn by [`super::png`]) or as an SVG (`FILE.svg`) that any browser
//! shows (text and lines, no fonts or image libraries needed).

use super::report::Report;
use anyhow::Context as _;
use std::fmt::Write as _;
use std::path::Path;

/// What `--plot FILE` writes, by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    /// The format `path` asks for, checked before the run so that a typo or a machine without a
    /// font for the PNG's text fails at once instead of after the whole benchmark.
    pub fn check(path: &Path) -> anyhow::Result<Self> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let format = match extension.as_deref() {
            Some("png") => Self::Png,
            Some("svg") => Self::Svg,
            _ => anyhow::bail!(
                "--plot {}: the file must end in .png or .svg (that picks the format)",
                path.display()
            ),
        };
        if format == Self::Png {
            super::png::ensure_font()?;
        }
        Ok(format)
    }
}

/// Writes the report's time series to `path` in `format`.
pub fn write(report: &Report, path: &Path, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Png => super::png::png(report, path),
        Format::Svg => std::fs::write(path, svg(report)).map_err(anyhow::Error::from),
    }
    .with_context(|| format!("writing {}", path.display()))
}

const WIDTH: f64 = 900.0;
const PANEL: f64 = 220.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 40.0;
const GAP: f64 = 60.0;

/// A panel: a title, an axis from 0 to `max` with 4 gridlines, and one polyline per series.
fn panel(
    out: &mut String,
    top: f64,
    title: &str,
    unit: &str,
    max: f64,
    lines: &[(&str, &[(f64, f64)])],
    seconds: f64,
) {
    let plot_w = WIDTH - LEFT - 30.0;
    let x = |t: f64| LEFT + plot_w * t / seconds.max(1.0);
    let y = |v: f64| top + PANEL - PANEL * v / max.max(f64::MIN_POSITIVE);
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="{}" font-size="15" font-weight="bold">{title}</text>"#,
        top - 10.0
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y0:.1}" y2="{y0:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{v:.0} {unit}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y(v) + 4.0,
            y0 = y(v)
        );
    }
    let colors = ["#1f6feb", "#d1242f", "#1a7f37"];
    for (i, (name, points)) in lines.iter().enumerate() {
        let color = colors[i % colors.len()];
        let path: Vec<String> =
            points.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/><text x="{}" y="{}" font-size="12" fill="{color}">{name}</text>"#,
            path.join(" "),
            LEFT + plot_w - 160.0 + 80.0 * i as f64,
            top - 10.0
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" font-size="11" text-anchor="middle">seconds since the run started (0 – {seconds:.0})</text>"#,
        LEFT + plot_w / 2.0,
        top + PANEL + 18.0
    );
}

/// The report's time series as an SVG document.
pub fn svg(report: &Report) -> String {
    let seconds = report.series.last().map_or(1.0, |s| s.second as f64 + 1.0);
    let tps: Vec<(f64, f64)> =
        report.series.iter().map(|s| (s.second as f64 + 0.5, s.committed as f64)).collect();
    let p50: Vec<(f64, f64)> =
        report.series.iter().map(|s| (s.second as f64 + 0.5, s.p50_ms)).collect();
    let p99: Vec<(f64, f64)> =
        report.series.iter().map(|s| (s.second as f64 + 0.5, s.p99_ms)).collect();
    let max_tps = tps.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let max_ms = p99.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let height = TOP + 2.0 * PANEL + GAP + 40.0;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="18" font-size="13">medledger bench: {} workload, {} validators, {} cores, {}</text>"#,
        report.workload, report.validators, report.cores, report.mode
    );
    panel(
        &mut out,
        TOP + 10.0,
        "committed transactions per second",
        "tx/s",
        max_tps,
        &[("tx/s", &tps)],
        seconds,
    );
    panel(
        &mut out,
        TOP + PANEL + GAP + 10.0,
        "submit → commit latency",
        "ms",
        max_ms,
        &[("p50", &p50), ("p99", &p99)],
        seconds,
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::Format;
    use std::path::Path;

    #[test]
    fn plot_format_goes_by_the_extension() {
        assert_eq!(Format::check(Path::new("run.svg")).expect("an SVG"), Format::Svg);
        assert_eq!(Format::check(Path::new("run.SVG")).expect("an SVG"), Format::Svg);
        // A PNG also needs a font; without one the check fails with `NoFont` before the run.
        if super::super::png::ensure_font().is_ok() {
            assert_eq!(Format::check(Path::new("out/run.png")).expect("a PNG"), Format::Png);
        }
        for bad in ["run.jpg", "run", "run.png.txt"] {
            let error = Format::check(Path::new(bad)).expect_err(bad).to_string();
            assert!(error.contains(".png or .svg"), "{bad}: {error}");
        }
    }
}
