//! Helpers for tests that run real validator processes on loopback.

#![allow(dead_code)]

pub mod proxy;
pub mod webdriver;

use medledger_client::{Client, ClientError};
use medledger_crypto::{SigningKey, decode_hex, keyfile};
use medledger_types::{Pseudonym, Transaction};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn medledger() -> Command {
    Command::new(env!("CARGO_BIN_EXE_medledger"))
}

/// A port range unlikely to collide between concurrent test runs, and below Linux's ephemeral
/// ports (32768 and up): a listening port there can be taken by any outgoing connection's
/// source port, and a validator then fails to bind. API ports are base..base+9, P2P ports
/// 1,000 above, so everything stays within 10,000..31,000.
pub fn base_port(slot: u16) -> u16 {
    10_000 + u16::try_from(std::process::id() % 200).unwrap() * 100 + slot * 10
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("medledger-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// An SDK client for the node at `addr`.
pub fn client(addr: SocketAddr) -> Client {
    Client::new(&format!("http://{addr}")).expect("loopback address")
}

/// A `GET` answered with JSON: (HTTP status, body). `None` if the node cannot be reached.
pub fn get_json(addr: SocketAddr, path: &str) -> Option<(u16, Value)> {
    match client(addr).get_value(path) {
        Ok(value) => Some((200, value)),
        Err(ClientError::Api { status, error }) => {
            Some((status, serde_json::to_value(error).ok()?))
        }
        Err(_) => None,
    }
}

/// Prometheus text from `/metrics`.
pub fn metrics(addr: SocketAddr) -> String {
    client(addr).metrics().expect("metrics reachable")
}

/// Submits a transaction (binary); `wait` asks for the receipt once committed. Returns the
/// HTTP status the node answered and its JSON body.
pub fn submit(addr: SocketAddr, tx: &Transaction, wait: bool) -> (u16, Value) {
    let node = client(addr);
    let answer = if wait {
        node.submit_and_wait(tx).map(|committed| {
            (200, serde_json::json!({ "status": "committed", "committed": committed }))
        })
    } else {
        node.submit(tx).map(|status| {
            let code = if status.status == "committed" { 200 } else { 202 };
            (code, serde_json::to_value(status).unwrap())
        })
    };
    match answer {
        Ok(answer) => answer,
        Err(ClientError::Api { status, error }) => (status, serde_json::to_value(error).unwrap()),
        Err(e) => panic!("API unreachable: {e}"),
    }
}

pub fn height(addr: SocketAddr) -> Option<u64> {
    get_json(addr, "/v1/status").and_then(|(_, v)| v["height"].as_u64())
}

pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A network created by `medledger init` and its validator processes.
pub struct Net {
    pub dir: PathBuf,
    pub apis: Vec<SocketAddr>,
    pub nodes: Vec<Option<Child>>,
}

impl Net {
    pub fn init(name: &str, validators: usize, slot: u16) -> Self {
        let dir = temp_dir(name);
        let port = base_port(slot);
        let output = medledger()
            .args([
                "init",
                "--validators",
                &validators.to_string(),
                "--patients",
                "20",
                // The tests sign for this chain id; without it each network gets its own.
                "--chain-id",
                "medledger-demo",
                "--base-port",
                &port.to_string(),
                "--dir",
            ])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let apis = (0..validators)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], port + u16::try_from(i).unwrap())))
            .collect();
        Self { dir, apis, nodes: (0..validators).map(|_| None).collect() }
    }

    pub fn home(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node{i}"))
    }

    pub fn start(&mut self, i: usize) {
        self.start_with(i, &[]);
    }

    /// Starts validator `i` with extra environment variables.
    pub fn start_with(&mut self, i: usize, env: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home(i).join("node.log"))
            .unwrap();
        let child = medledger()
            .arg("node")
            .arg("--home")
            .arg(self.home(i))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.nodes[i] = Some(child);
    }

    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Validator `i`'s consensus key (reads whole blocks from the API).
    pub fn validator_key(&self, i: usize) -> SigningKey {
        keyfile::read(&self.home(i).join("validator.key.json")).unwrap()
    }

    pub fn member_key(&self, member: &str) -> SigningKey {
        keyfile::read(&self.dir.join("keys/members").join(format!("{member}.key.json"))).unwrap()
    }

    pub fn patients(&self) -> Vec<(Pseudonym, SigningKey)> {
        let text = std::fs::read_to_string(self.dir.join("keys/patients.json")).unwrap();
        let list: Vec<Value> = serde_json::from_str(&text).unwrap();
        list.iter()
            .map(|p| {
                let pseudonym: Pseudonym = p["pseudonym"].as_str().unwrap().parse().unwrap();
                let seed: [u8; 32] =
                    decode_hex(p["secret_key"].as_str().unwrap()).unwrap().try_into().unwrap();
                (pseudonym, SigningKey::from_seed(seed))
            })
            .collect()
    }

    /// An issuance of `bills` with stand-in sealed bodies wrapped to the readers genesis
    /// requires (the ledger checks who bodies are wrapped to, not what they hold).
    pub fn issue(&self, bills: Vec<medledger_types::BillIssue>) -> medledger_types::Payload {
        medledger_testkit::stub_issue_for(&genesis_dir(&self.dir), bills)
    }

    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.home(i).join("node.log")).unwrap_or_default();
        text.lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill9(i);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn genesis_dir(path: &Path) -> medledger_types::Genesis {
    serde_json::from_str(&std::fs::read_to_string(path.join("genesis.json")).unwrap()).unwrap()
}

/// Runs `medledger ARGS --node URL` with no node set in the environment.
pub struct Cli {
    pub node: String,
}

impl Cli {
    pub fn run(&self, args: &[&str]) -> Output {
        medledger()
            .args(args)
            .args(["--node", &self.node])
            .env_remove("MEDLEDGER_NODE")
            .output()
            .unwrap()
    }

    /// Standard output of a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "medledger {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The JSON a command that must succeed prints with `--json`.
    pub fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(&[args, &["--json"]].concat());
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// A command that must fail with `status`: its error, and its standard output. Usage
    /// errors (2) are clap's, with a usage hint; every other error is one `error:` line.
    pub fn fails(&self, args: &[&str], status: i32) -> (String, String) {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(status), "medledger {args:?}: {stderr}{stdout}");
        let line = stderr.trim_end();
        assert!(line.starts_with("error: "), "medledger {args:?}: {stderr:?}");
        assert!(
            status == 2 || !line.contains('\n'),
            "medledger {args:?}: not one line: {stderr:?}"
        );
        (line.to_string(), stdout)
    }
}

impl Net {
    /// Sets `key = value` in validator `i`'s config.toml (the first line setting `key`), before
    /// it starts.
    pub fn set_config(&self, i: usize, key: &str, value: &str) {
        let path = self.home(i).join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let prefix = format!("{key} = ");
        let line = text.lines().find(|l| l.starts_with(&prefix));
        let line = line.unwrap_or_else(|| panic!("no {key} in {}:\n{text}", path.display()));
        let text = text.replacen(line, &format!("{prefix}{value}"), 1);
        std::fs::write(&path, text).unwrap();
    }
}

/// One raw HTTP/1.1 exchange on a fresh connection (`request` should ask for
/// `Connection: close`): the status and body. Connecting, each write and each read give up
/// after `timeout`.
pub fn exchange(
    addr: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not HTTP: {text:?}"))
    })?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_string();
    Ok((status, body))
}
