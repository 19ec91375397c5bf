//! `medledger localnet`: several validators as separate processes on this machine.
//!
//! Creates the consortium if the directory is empty, starts `medledger node --home DIR/nodeI`
//! for each validator with its log in `DIR/nodeI/node.log`, writes `DIR/localnet.json`, and on
//! SIGINT or SIGTERM stops them all (SIGTERM, then SIGKILL after a grace period).

use crate::config::NodeConfig;
use crate::init::{InitOptions, init, is_empty_dir};
use anyhow::{Context as _, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long validators get to stop after SIGTERM before they are killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct NodeEntry {
    api: String,
    p2p: String,
    pid: u32,
    home: PathBuf,
}

/// The JSON form of `localnet.json`.
#[derive(Serialize)]
struct Manifest {
    nodes: Vec<NodeEntry>,
}

/// Starts the validator in `home` as a child process of `exe`.
pub fn spawn_node(exe: &Path, home: &Path) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("node.log"))
        .with_context(|| format!("opening {}/node.log", home.display()))?;
    let child = Command::new(exe)
        .arg("node")
        .arg("--home")
        .arg(home)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting the validator in {}", home.display()))?;
    Ok(child)
}

/// Sends SIGTERM to `child`, waits up to `grace`, then kills it.
pub fn stop_node(child: &mut Child, grace: Duration) {
    // Never signal a process id that was already reaped: it may belong to someone else now.
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A running local network.
#[derive(Debug)]
pub struct Localnet {
    /// The network's directory.
    pub dir: PathBuf,
    /// Each validator's home.
    pub homes: Vec<PathBuf>,
    /// Each validator's API address.
    pub apis: Vec<std::net::SocketAddr>,
    children: Vec<Child>,
}

impl Localnet {
    /// Creates the consortium if `options.dir` is empty, starts one process per validator and
    /// writes `DIR/localnet.json`.
    pub fn start(options: &InitOptions) -> anyhow::Result<Self> {
        let dir = options.dir.clone();
        if is_empty_dir(&dir) {
            init(options)?;
            eprintln!("created a {}-validator consortium in {}", options.validators, dir.display());
        }
        let mut homes: Vec<PathBuf> = (0..)
            .map(|i| dir.join(format!("node{i}")))
            .take_while(|home| home.join("config.toml").exists())
            .collect();
        if homes.is_empty() {
            bail!("{} holds no validator homes (node0/config.toml, …)", dir.display());
        }
        homes.truncate(options.validators.max(1));
        let exe = std::env::current_exe().context("finding the medledger executable")?;
        let mut net =
            Self { dir: dir.clone(), homes: Vec::new(), apis: Vec::new(), children: Vec::new() };
        let mut entries = Vec::new();
        for home in &homes {
            let config = NodeConfig::load(home)?;
            let child = spawn_node(&exe, home)?;
            entries.push(NodeEntry {
                api: format!("http://{}", config.api_address),
                p2p: config.p2p_address.to_string(),
                pid: child.id(),
                home: home.clone(),
            });
            net.children.push(child);
            net.apis.push(config.api_address);
            net.homes.push(home.clone());
        }
        let manifest = dir.join("localnet.json");
        std::fs::write(
            &manifest,
            serde_json::to_string_pretty(&Manifest { nodes: entries })? + "\n",
        )?;
        Ok(net)
    }

    /// The validators' process ids, in order.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Prints where to look.
    pub fn describe(&self) {
        println!(
            "{} validators running; details in {}",
            self.children.len(),
            self.dir.join("localnet.json").display()
        );
        for (i, (api, home)) in self.apis.iter().zip(&self.homes).enumerate() {
            println!(
                "  node{i}: status http://{api}/v1/status   log {}",
                home.join("node.log").display()
            );
        }
    }

    /// Blocks until SIGINT or SIGTERM, reporting validators that exit on their own.
    pub fn wait_for_signal(&mut self) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (children, homes) = (&mut self.children, &self.homes);
        runtime.block_on(async {
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            let mut reported = vec![false; children.len()];
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    _ = terminate.recv() => break,
                    _ = tick.tick() => {
                        for (i, child) in children.iter_mut().enumerate() {
                            if let Ok(Some(status)) = child.try_wait()
                                && !reported[i]
                            {
                                reported[i] = true;
                                eprintln!("node{i} exited ({status}); see {}", homes[i].join("node.log").display());
                            }
                        }
                    }
                }
            }
            anyhow::Ok(())
        })
    }

    /// Stops every validator: SIGTERM to all, then each gets [`STOP_GRACE`] before SIGKILL.
    pub fn stop(&mut self) {
        for child in &mut self.children {
            if let Ok(Some(_)) = child.try_wait() {
                continue;
            }
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        for child in &mut self.children {
            stop_node(child, STOP_GRACE);
        }
        self.children.clear();
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the local network until SIGINT or SIGTERM.
pub fn run(options: InitOptions) -> anyhow::Result<()> {
    let mut net = Localnet::start(&options)?;
    net.describe();
    println!("Ctrl-C (or SIGTERM) stops them all.");
    net.wait_for_signal()?;
    println!("stopping {} validators…", net.children.len());
    net.stop();
    println!("stopped");
    Ok(())
}
