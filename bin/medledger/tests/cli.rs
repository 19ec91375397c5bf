//! The `medledger` binary as a user runs it.

use std::process::Command;

fn medledger() -> Command {
    Command::new(env!("CARGO_BIN_EXE_medledger"))
}

#[test]
fn scenario_plays_every_step_as_the_rules_require() {
    let output = medledger().args(["scenario", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["all_ok"], true);
    assert_eq!(summary["invariants_ok"], true);
    let steps = summary["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 11);
    let outcomes: Vec<&str> = steps.iter().map(|s| s["outcome"].as_str().unwrap()).collect();
    assert!(outcomes.contains(&"over_claim"));
    assert!(outcomes.contains(&"duplicate_claim"));
    assert!(outcomes.contains(&"replayed"));
    assert_eq!(summary["bill"]["reimbursed"], "250.00");
    assert_eq!(summary["bill"]["reserved"], "0.00");
}

#[test]
fn scenario_narrates_by_default() {
    let output = medledger().arg("scenario").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("11 of 11 steps turned out as the rules require"), "{text}");
}

#[test]
fn keygen_writes_a_private_key_file_and_never_overwrites() {
    let dir = std::env::temp_dir().join(format!("medledger-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hospital.key.json");
    let _ = std::fs::remove_file(&path);
    let output = medledger().args(["keygen", "--out"]).arg(&path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = medledger_crypto::keyfile::read(&path).unwrap();
    assert!(stdout.contains(&key.public_key().to_hex()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = medledger().args(["keygen", "--out"]).arg(&path).output().unwrap();
    assert!(!again.status.success());
    let stderr = String::from_utf8(again.stderr).unwrap();
    assert!(stderr.starts_with("error:") && stderr.contains("exists"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keygen_prints_a_key_file_to_stdout() {
    let output = medledger().arg("keygen").output().unwrap();
    assert!(output.status.success());
    let file: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(file["scheme"], "ed25519");
    assert_eq!(file["public_key"].as_str().unwrap().len(), 64);
}

#[test]
fn unknown_commands_fail_with_help() {
    let output = medledger().arg("frobnicate").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Usage"));
}
