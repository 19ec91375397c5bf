//! Every command the README shows works as written: the `medledger` commands parse (run with
//! `--help` appended, so clap checks the subcommand, every flag and every value before it
//! prints help), `cargo test`/`cargo bench`/`cargo run -p` name packages, test and bench
//! targets and features that exist, and the scripts it names are there and executable.
//!
//! This is the class of defect a new user meets first: a command copied from the README that
//! fails as written. The main and test commands themselves run in `.ci/run`, literally.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The commands of the README: the lines of its `sh` blocks (continuations joined, comments
/// dropped) and the inline code spans that start like a command.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if in_sh {
            let code = strip_comment(line).trim_end().to_string();
            if let Some(start) = code.strip_suffix('\\') {
                pending.push_str(start);
                continue;
            }
            let whole = format!("{pending}{code}");
            pending.clear();
            if !whole.trim().is_empty() {
                commands.push(whole.trim().to_string());
            }
        } else {
            for (i, span) in line.split('`').enumerate() {
                let starts = ["cargo ", "medledger ", "scripts/", "bash ", "MEDLEDGER_"];
                if i % 2 == 1 && starts.iter().any(|s| span.starts_with(s)) && span.contains(' ') {
                    commands.push(span.to_string());
                }
            }
        }
    }
    commands
}

/// `line` without a trailing `# comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('#', None) if i == 0 || line[..i].ends_with(' ') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Splits a command into words as a shell would for these simple lines: quotes grouped,
/// `$K` expanded as the README sets it, placeholders given sample values.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut any = false;
    for c in command.chars() {
        match (c, quote) {
            ('"' | '\'', None) => {
                quote = Some(c);
                any = true;
            }
            (q, Some(open)) if q == open => quote = None,
            (' ', None) => {
                if any {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            _ => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out.into_iter()
        .map(|w| {
            w.replace("$K", "localnet/keys/members")
                .replace("CLAIM_ID", &"0a".repeat(16))
                .replace("PSEUDONYM", &"0b".repeat(16))
        })
        .collect()
}

/// Runs the medledger binary with `args` and `--help`: clap parses everything before the
/// help flag, so an unknown subcommand, flag or bad value fails here.
fn parses(args: &[String]) -> Result<(), String> {
    let help = (!args.iter().any(|a| a == "--help")).then_some("--help");
    let out = Command::new(env!("CARGO_BIN_EXE_medledger")).args(args).args(help).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The package directory of `name`, from the workspace's members.
fn package_dir(name: &str) -> Option<PathBuf> {
    ["crates", "bin"].iter().find_map(|parent| {
        let dirs = std::fs::read_dir(root().join(parent)).ok()?;
        dirs.flatten().map(|d| d.path()).find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|t| t.contains(&format!("name = \"{name}\"")))
        })
    })
}

/// Checks a `cargo …` command: its package, test or bench target, features and, for
/// `cargo run`, its arguments.
fn check_cargo(words: &[String]) -> Result<(), String> {
    let sub = words.get(1).map(String::as_str).unwrap_or("");
    let (before, after) = match words.iter().position(|w| w == "--") {
        Some(i) => (&words[..i], &words[i + 1..]),
        None => (words, &[][..]),
    };
    let value = |flag: &str| before.iter().position(|w| w == flag).and_then(|i| before.get(i + 1));
    let package = value("-p").map(String::as_str);
    let dir = match package {
        Some(p) => package_dir(p).ok_or_else(|| format!("no package {p}"))?,
        None => root().join("bin/medledger"),
    };
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    if let Some(feature) = value("--features") {
        let declared =
            manifest.lines().any(|l| l.trim_start().starts_with(&format!("{feature} =")));
        if !declared {
            return Err(format!("{} has no feature {feature}", dir.display()));
        }
    }
    for (flag, folder) in [("--test", "tests"), ("--bench", "benches")] {
        if let Some(target) = value(flag) {
            let file = dir.join(folder).join(format!("{target}.rs"));
            let main = dir.join(folder).join(target).join("main.rs");
            if !file.exists() && !main.exists() {
                return Err(format!("no {folder}/{target}.rs in {}", dir.display()));
            }
        }
    }
    match (sub, package) {
        ("run", None | Some("medledger")) => parses(after),
        ("run", Some("medledger-sim")) => {
            // The simulator's flags, from its clap definition.
            let source = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
            for flag in after.iter().filter(|w| w.starts_with("--")) {
                let field = flag.trim_start_matches('-').replace('-', "_");
                if !source.contains(&format!("{field}:")) {
                    return Err(format!("medledger-sim has no flag {flag}"));
                }
            }
            Ok(())
        }
        ("run", Some(other)) => Err(format!("cargo run -p {other}: not a binary package")),
        ("test" | "bench" | "build", _) => Ok(()),
        (other, _) => Err(format!("cargo {other}: not a command the README should show")),
    }
}

fn check(command: &str) -> Result<(), String> {
    let mut words = words(command);
    // Leading environment assignments.
    while words.first().is_some_and(|w| w.contains('=') && !w.starts_with('-')) {
        words.remove(0);
    }
    // A pipeline's first command is what the README asks to run.
    if let Some(i) = words.iter().position(|w| w == "|" || w == ">") {
        words.truncate(i);
    }
    let Some(program) = words.first().cloned() else { return Ok(()) };
    match program.as_str() {
        "cargo" => check_cargo(&words),
        "medledger" => parses(&words[1..]),
        "bash" => {
            let script = root().join(&words[1]);
            script.is_file().then_some(()).ok_or_else(|| format!("no {}", script.display()))
        }
        p if p.starts_with("scripts/") => {
            use std::os::unix::fs::PermissionsExt as _;
            let script = root().join(p);
            let mode = std::fs::metadata(&script)
                .map_err(|e| format!("{}: {e}", script.display()))?
                .permissions()
                .mode();
            (mode & 0o111 != 0).then_some(()).ok_or_else(|| format!("{p} is not executable"))
        }
        // Shell set-up and HTTP calls against a running node: nothing to check offline.
        "curl" | "export" | "K=localnet/keys/members" => Ok(()),
        other => Err(format!("unknown program {other}")),
    }
}

#[test]
fn every_readme_command_works_as_written() {
    let commands = readme_commands();
    assert!(commands.len() > 40, "found only {} commands: {commands:#?}", commands.len());
    assert!(commands.iter().any(|c| c == "cargo run --release -- demo"), "the main command");
    assert!(commands.iter().any(|c| c == "scripts/test"), "the test command");
    let failures: Vec<String> = commands
        .iter()
        .filter_map(|c| check(c).err().map(|e| format!("{c}\n    {}", e.trim())))
        .collect();
    assert!(failures.is_empty(), "README commands that fail as written:\n{}", failures.join("\n"));
}

#[test]
fn the_checks_catch_a_broken_command() {
    assert!(check("cargo run --release -- demo --no-such-flag").is_err());
    assert!(check("cargo run --release -- no-such-command").is_err());
    assert!(check("cargo test -p medledger --test no_such_test").is_err());
    assert!(check("cargo test -p no-such-package").is_err());
    assert!(check("cargo run --release -p medledger-sim -- --no-such-flag 3").is_err());
    assert!(check("medledger claim show not-an-id").is_err());
    assert!(check("cargo run --release -- demo --exit --json").is_ok());
}
