//! `medledger bench` as an operator runs it, small: each workload on a real 4-validator network
//! commits every transaction it sent, the ledger's rejections are exactly the planted ones,
//! and the JSON report carries every figure the text report prints.

mod support;

use serde_json::Value;
use support::*;

fn bench(workload: &str, count: &str, slot: u16) -> Value {
    bench_with(workload, count, slot, &[]).0
}

/// Runs the bench with `extra` options; the report and what it printed on stderr.
fn bench_with(workload: &str, count: &str, slot: u16, extra: &[&str]) -> (Value, String) {
    let dir = temp_dir(&format!("bench-{workload}"));
    let json = dir.with_extension("json");
    let output = medledger()
        .args(["bench", "--workload", workload, "--count", count, "--clients", "4"])
        .args(["--base-port", &base_port(slot).to_string(), "--json"])
        .arg(&json)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("rejections match the planted ones"), "{stdout}");
    assert!(stderr.contains("committed ("), "progress is printed while running: {stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    (report, stderr.into_owned())
}

fn phase<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["phases"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()
}

#[test]
fn each_workload_commits_everything_it_sends_and_reports_it() {
    // Claims: 400 claims, 5 % filed twice and 5 % over-claimed, then 400 settlements.
    let report = bench("claims", "400", 8);
    let submit = phase(&report, "claim submit");
    assert_eq!(submit["committed"], 440, "{report}");
    assert_eq!(submit["accepted"], 400);
    assert_eq!(report["rejections"]["duplicate_claim"], 20);
    assert_eq!(report["rejections"]["over_claim"], 20);
    assert_eq!(report["rejections"], report["expected_rejections"]);
    let settle = phase(&report, "claim settle");
    assert_eq!((settle["committed"].as_u64(), settle["accepted"].as_u64()), (Some(400), Some(400)));
    for p in [submit, settle] {
        let latency = &p["latency_ms"];
        assert!(latency["p50"].as_f64().unwrap() > 0.0, "{p}");
        assert!(latency["p50"].as_f64() <= latency["p99"].as_f64());
        assert!(latency["p99"].as_f64() <= latency["max"].as_f64());
        assert!(p["tx_per_s"].as_f64().unwrap() > 0.0);
    }
    let resources = &report["resources"];
    assert!(resources["cpu_seconds_per_1000_tx"].as_f64().unwrap() > 0.0);
    assert_eq!(resources["peak_memory_mib"].as_array().unwrap().len(), 4);
    assert!(resources["disk_bytes_per_bill"].as_f64().unwrap() > 0.0);
    assert!(!report["series"].as_array().unwrap().is_empty());

    // Mixed: 150 sealed bills, each claimed when seen committed, each claim settled likewise.
    let report = bench("mixed", "150", 8);
    let pipeline = phase(&report, "issue → claim → settle");
    let batches = 2; // 150 bills in batches of 100
    assert_eq!(pipeline["committed"].as_u64(), Some(batches + 300), "{report}");
    assert_eq!(pipeline["accepted"], pipeline["committed"]);
    let settled = &pipeline["submit_to_settled_ms"];
    assert_eq!(settled["samples"], 150);
    assert!(settled["p50"].as_f64().unwrap() > 0.0);
    assert!(pipeline["bills_per_s"].as_f64().unwrap() > 0.0);

    // Auto: a policy, then 200 claims (and 10 over-claims) that the policy settles in the
    // block that accepts each; submit-to-settled is measured on exactly those 200.
    let report = bench("auto", "200", 8);
    let claims = phase(&report, "claims settled by policy");
    assert_eq!(claims["committed"], 210, "{report}");
    assert_eq!(claims["accepted"], 200);
    assert_eq!(claims["auto_settled"], 200, "every claim settled in its own block: {report}");
    assert_eq!(report["rejections"], report["expected_rejections"]);
    let settled = &claims["submit_to_settled_ms"];
    assert_eq!(settled["samples"], 200);
    assert!(settled["p50"].as_f64().unwrap() > 0.0);
    assert!(settled["p99"].as_f64() <= settled["max"].as_f64());
}

#[test]
fn batched_submission_against_a_preloaded_state_with_a_png_plot() {
    // 300 claims sent 50 to a request, against 5,000 bills generated at genesis (no set-up
    // issuance), then their settlements; the plot drawn as a PNG.
    let png = temp_dir("bench-plot").with_extension("png");
    // Text in a PNG needs a system font (.ci/run installs fonts-dejavu-core).
    let font = std::path::Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists();
    let mut extra = vec!["--submit-batch", "50", "--preload-bills", "5000"];
    if font {
        extra.extend(["--plot", png.to_str().unwrap()]);
    } else {
        eprintln!("DejaVu is not installed: the PNG plot is not drawn");
    }
    let (report, stderr) = bench_with("claims", "300", 9, &extra);
    assert_eq!(report["submit_batch"], 50);
    assert!(stderr.contains("claims go to 300 of the 5000 bills generated at genesis"), "{stderr}");
    let submit = phase(&report, "claim submit");
    assert_eq!((submit["committed"].as_u64(), submit["accepted"].as_u64()), (Some(330), Some(300)));
    assert_eq!(report["rejections"]["duplicate_claim"], 15);
    assert_eq!(report["rejections"]["over_claim"], 15);
    let settle = phase(&report, "claim settle");
    assert_eq!(settle["accepted"].as_u64(), Some(300), "{report}");
    if font {
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5_000, "{}", bytes.len());
        let _ = std::fs::remove_file(&png);
    }
}
