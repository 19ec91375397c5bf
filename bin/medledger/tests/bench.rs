//! `medledger bench` as an operator runs it, small: each workload on a real 4-validator network
//! commits every transaction it sent, the ledger's rejections are exactly the planted ones,
//! and the JSON report carries every figure the text report prints.

mod support;

use serde_json::Value;
use support::*;

fn bench(workload: &str, count: &str, slot: u16) -> Value {
    let dir = temp_dir(&format!("bench-{workload}"));
    let json = dir.with_extension("json");
    let output = medledger()
        .args(["bench", "--workload", workload, "--count", count, "--clients", "4"])
        .args(["--base-port", &base_port(slot).to_string(), "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("rejections match the planted ones"), "{stdout}");
    assert!(stderr.contains("committed ("), "progress is printed while running: {stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    report
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
}
