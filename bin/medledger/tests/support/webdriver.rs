//! A small W3C WebDriver client for the portal's browser tests: Debian's `chromedriver`
//! driving headless `chromium`, spoken to over loopback HTTP with one request per connection.
//! Only what the tests use: navigate, find, click, type, read text, run a script, screenshot.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key W3C WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian's packages put the browser and its driver (`.ci/run` installs both).
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Fails (never skips) when the browser or its driver is not installed, saying what to
/// install: a browser test that passes without a browser would prove nothing. Tests call it
/// first, before starting a network.
pub fn require_browser() {
    let missing: Vec<&str> = [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")]
        .into_iter()
        .filter(|(program, _)| !Path::new(program).exists())
        .map(|(_, package)| package)
        .collect();
    assert!(
        missing.is_empty(),
        "{} missing: install Debian's chromium and chromium-driver \
         (`apt-get install -y chromium chromium-driver fonts-dejavu-core`; `.ci/run` does)",
        missing.join(" and ")
    );
}

/// One entry of the browser's log: the console, the network and security (such as
/// Content-Security-Policy) errors, as chromedriver reports them.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE` for errors, `WARNING`, `INFO`, …
    pub level: String,
    /// Where it came from: `console-api`, `javascript`, `network`, `security`, …
    pub source: String,
    pub message: String,
}

/// A running chromedriver with one headless Chromium session. Both end when it is dropped.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    profile: PathBuf,
    /// Where [`Browser::screenshot`] saves pages.
    pub shots: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP request to the driver; the JSON answer's `value`, or the WebDriver error.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("chromedriver: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| format!("chromedriver: {e}"))?;
    // chromedriver keeps connections open whatever the request asks, so the answer is read to
    // its length, not to the end of the stream.
    let mut answer = Vec::new();
    let mut buf = [0u8; 65536];
    let (head, payload) = loop {
        let n = stream.read(&mut buf).map_err(|e| format!("chromedriver: {e}"))?;
        if n == 0 {
            return Err("chromedriver closed the connection mid-answer".into());
        }
        answer.extend_from_slice(&buf[..n]);
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let body = &answer[end + 4..];
        if let Some(len) = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            if body.len() >= len {
                break (head, String::from_utf8_lossy(&body[..len]).into_owned());
            }
        } else if head.contains("transfer-encoding: chunked") {
            let text = String::from_utf8_lossy(body);
            if text.ends_with("0\r\n\r\n") {
                break (head, dechunk(&text));
            }
        } else {
            return Err(format!("chromedriver answered without a length: {head}"));
        }
    };
    let value: Value = serde_json::from_str(&payload)
        .map_err(|e| format!("chromedriver answered {head:?} with non-JSON: {e}"))?;
    let value = value.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        let message = value.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("{error}: {}", message.lines().next().unwrap_or("")));
    }
    Ok(value)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`, saving screenshots in
    /// `shots`. Panics with what to install when either is missing.
    pub fn start(shots: &Path, width: u32, height: u32) -> Self {
        require_browser();
        std::fs::create_dir_all(shots).unwrap();
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let start = Instant::now();
        while request(addr, "GET", "/status", None).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = std::env::temp_dir().join(format!("medledger-chromium-{port}"));
        let _ = std::fs::remove_dir_all(&profile);
        // Headless, as root in a container, and quiet: this machine's network is closed, so
        // Chromium's own background connections are switched off rather than refused.
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "timeouts": {"implicit": 0, "pageLoad": 30000, "script": 30000},
            // Keep the browser's log (console, network, security) for `Browser::log`.
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let mut driver = driver;
        let session = match request(addr, "POST", "/session", Some(&capabilities)) {
            Ok(value) => value["sessionId"].as_str().expect("a session id").to_string(),
            Err(e) => {
                let _ = driver.kill();
                panic!("chromium did not start: {e}");
            }
        };
        Self { driver, addr, session, profile, shots: shots.to_path_buf() }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        request(self.addr, method, &format!("/session/{}{path}", self.session), body.as_ref())
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).unwrap();
    }

    /// Resizes the window.
    pub fn resize(&self, width: u32, height: u32) {
        self.call("POST", "/window/rect", Some(json!({"width": width, "height": height}))).unwrap();
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    fn find(&self, css: &str) -> Option<String> {
        let found = self
            .call("POST", "/element", Some(json!({"using": "css selector", "value": css})))
            .ok()?;
        found[ELEMENT].as_str().map(str::to_string)
    }

    /// Polls `probe` until it gives a value; past `timeout`, saves a screenshot named after
    /// `css` and fails with what the page says.
    fn poll<T>(
        &self,
        what: &str,
        css: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if start.elapsed() > timeout {
                self.screenshot(&format!("failed-{what}-{}", sanitize(css)));
                panic!(
                    "timed out after {timeout:?} waiting for {what} {css}; the page says:\n{}",
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(120));
        }
    }

    /// Waits until `css` matches an element, and returns it.
    pub fn wait(&self, css: &str, timeout: Duration) -> String {
        self.poll("element", css, timeout, || self.find(css))
    }

    /// Waits until the text of `css` satisfies `check`, and returns the text.
    pub fn wait_text(&self, css: &str, timeout: Duration, check: impl Fn(&str) -> bool) -> String {
        self.poll("text of", css, timeout, || {
            let id = self.find(css)?;
            match self.call("GET", &format!("/element/{id}/text"), None) {
                Ok(Value::String(text)) if check(&text) => Some(text),
                _ => None,
            }
        })
    }

    /// Clicks the element `css` matches (waiting up to 10 s for it).
    pub fn click(&self, css: &str) {
        let id = self.wait(css, Duration::from_secs(10));
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})))
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Sets the value of the input, select or text area `css` matches, as typing would, and
    /// fires its `input` and `change` events.
    pub fn fill(&self, css: &str, value: &str) {
        self.wait(css, Duration::from_secs(10));
        self.eval(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];
             el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(css), json!(value)],
        );
    }

    /// Chooses `path` in the file input `css` matches.
    pub fn upload(&self, css: &str, path: &Path) {
        let id = self.wait(css, Duration::from_secs(10));
        let text = path.display().to_string();
        self.call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })))
            .unwrap_or_else(|e| panic!("upload {text} into {css}: {e}"));
    }

    /// The visible text of the whole page.
    pub fn page_text(&self) -> String {
        self.eval("return document.body.innerText;", vec![]).as_str().unwrap_or("").to_string()
    }

    /// The browser's log since the previous call (chromedriver hands each entry out once).
    pub fn log(&self) -> Vec<LogEntry> {
        let entries = self
            .call("POST", "/se/log", Some(json!({"type": "browser"})))
            .unwrap_or_else(|e| panic!("reading the browser log: {e}"));
        entries
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| LogEntry {
                        level: e["level"].as_str().unwrap_or("").to_string(),
                        source: e["source"].as_str().unwrap_or("").to_string(),
                        message: e["message"].as_str().unwrap_or("").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The errors (`SEVERE` entries) in the browser's log since the previous read: script
    /// errors, `console.error`, failed requests, Content-Security-Policy refusals.
    pub fn errors(&self) -> Vec<LogEntry> {
        self.log().into_iter().filter(|e| e.level == "SEVERE").collect()
    }

    /// Saves the page as `NAME.png` under [`Browser::shots`] and returns the path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        use base64_png::decode;
        let path = self.shots.join(format!("{name}.png"));
        if let Ok(Value::String(data)) = self.call("GET", "/screenshot", None) {
            std::fs::write(&path, decode(&data)).unwrap();
        }
        path
    }
}

fn sanitize(css: &str) -> String {
    css.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(self.addr, "DELETE", &format!("/session/{}", self.session), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Base64 as WebDriver sends screenshots (standard alphabet, padded).
mod base64_png {
    pub fn decode(text: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        };
        let digits: Vec<u8> = text.bytes().filter_map(value).collect();
        let mut out = Vec::with_capacity(digits.len() * 3 / 4);
        for group in digits.chunks(4) {
            let n =
                group.iter().enumerate().fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
            let bytes = n.to_be_bytes();
            out.extend_from_slice(&bytes[1..group.len()]);
        }
        out
    }
}
