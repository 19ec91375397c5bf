//! HTTP/1.1 requests with timeouts and bounded answers. Plain requests reuse idle keep-alive
//! connections to the node (a fresh TCP connection per request cost the node more CPU than
//! admitting the transaction it carried); event streams get a connection of their own.

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Answers larger than this are refused (a node's largest answer is a page of bills).
const RESPONSE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Sends a request head (and body) on a fresh connection.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    Ok(stream)
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("malformed HTTP response: {what}"))
}

/// A streamed response: its status, whether its body is chunked, and the body's reader.
pub(crate) struct Streamed {
    pub(crate) status: u16,
    pub(crate) body: Box<dyn BufRead + Send>,
}

/// Opens a `GET` whose answer is read as it arrives (server-sent events).
pub(crate) fn open_stream(
    addr: SocketAddr,
    path: &str,
    extra_headers: &str,
    timeout: Duration,
) -> std::io::Result<Streamed> {
    let stream = send(addr, "GET", path, extra_headers, "application/json", b"", timeout)?;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed in the head"));
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        if head.len() > HEAD_BYTES_MAX {
            return Err(invalid("head too large"));
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let status: u16 =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| invalid("status"))?;
    let body: Box<dyn BufRead + Send> = if head.contains("transfer-encoding: chunked") {
        Box::new(BufReader::new(Chunked { inner: reader, left: 0, done: false }))
    } else {
        Box::new(reader)
    };
    Ok(Streamed { status, body })
}

/// Heads larger than this are refused.
const HEAD_BYTES_MAX: usize = 64 * 1024;

/// Reads a chunked body as the plain bytes it carries.
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                // The CRLF that ends the previous chunk.
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(size, 16).map_err(|_| invalid("chunk size"))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let read = self.inner.read(&mut buf[..n])?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= read;
        Ok(read)
    }
}

/// Idle keep-alive connections to one node, shared by a client's clones.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<(BufReader<TcpStream>, Instant)>>,
}

/// Idle connections kept per node; more are closed.
const POOL_IDLE_MAX: usize = 16;
/// An idle connection older than this is closed rather than reused: the node closes idle
/// connections after its header timeout (10 s), and a connection it closed cannot be used.
const POOL_IDLE_FOR_MAX: Duration = Duration::from_secs(5);

impl Pool {
    fn take(&self) -> Option<BufReader<TcpStream>> {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < POOL_IDLE_FOR_MAX {
                return Some(connection);
            }
        }
        None
    }

    fn give_back(&self, connection: BufReader<TcpStream>) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < POOL_IDLE_MAX {
            idle.push((connection, Instant::now()));
        }
    }
}

/// One request on a pooled connection (or a fresh one): the status and the body. A reused
/// connection the node has closed in the meantime fails before any answer arrives; the request
/// is then sent once more on a fresh connection. Every request of the API is safe to repeat
/// (submissions are idempotent by transaction id).
#[allow(clippy::too_many_arguments)]
pub(crate) fn request(
    pool: &Pool,
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<(u16, Vec<u8>)> {
    if let Some(mut connection) = pool.take() {
        match exchange(&mut connection, addr, method, path, extra_headers, content_type, body) {
            Ok((answer, reusable)) => {
                if reusable {
                    pool.give_back(connection);
                }
                return Ok(answer);
            }
            Err(Failure::BeforeAnswer(_)) => {} // closed by the node while idle: retry fresh
            Err(Failure::DuringAnswer(e)) => return Err(e),
        }
    }
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let _ = stream.set_nodelay(true);
    let mut connection = BufReader::new(stream);
    match exchange(&mut connection, addr, method, path, extra_headers, content_type, body) {
        Ok((answer, reusable)) => {
            if reusable {
                pool.give_back(connection);
            }
            Ok(answer)
        }
        Err(Failure::BeforeAnswer(e) | Failure::DuringAnswer(e)) => Err(e),
    }
}

/// Where a request on a connection failed.
enum Failure {
    /// Nothing of the answer arrived (for a reused connection: it was closed while idle).
    BeforeAnswer(std::io::Error),
    /// The answer was cut or malformed.
    DuringAnswer(std::io::Error),
}

/// Sends one request on `connection` and reads its answer; says whether the connection can
/// carry another request.
fn exchange(
    connection: &mut BufReader<TcpStream>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &str,
    content_type: &str,
    body: &[u8],
) -> Result<((u16, Vec<u8>), bool), Failure> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra_headers}\r\n",
        body.len()
    );
    let mut message = Vec::with_capacity(head.len() + body.len());
    message.extend_from_slice(head.as_bytes());
    message.extend_from_slice(body);
    connection.get_mut().write_all(&message).map_err(Failure::BeforeAnswer)?;
    let mut status_line = String::new();
    match connection.read_line(&mut status_line) {
        Ok(0) => return Err(Failure::BeforeAnswer(invalid("connection closed before the answer"))),
        Ok(_) => {}
        Err(e) => return Err(Failure::BeforeAnswer(e)),
    }
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::DuringAnswer(invalid("status")))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    let mut head_bytes = status_line.len();
    loop {
        let mut line = String::new();
        let read = connection.read_line(&mut line).map_err(Failure::DuringAnswer)?;
        if read == 0 {
            return Err(Failure::DuringAnswer(invalid("connection closed in the head")));
        }
        head_bytes += read;
        if head_bytes > HEAD_BYTES_MAX {
            return Err(Failure::DuringAnswer(invalid("head too large")));
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        let line = line.to_ascii_lowercase();
        if let Some(value) = line.strip_prefix("content-length:") {
            length = Some(
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| Failure::DuringAnswer(invalid("length")))?,
            );
        } else if line.starts_with("transfer-encoding:") && line.contains("chunked") {
            chunked = true;
        } else if line.starts_with("connection:") && line.contains("close") {
            close = true;
        }
    }
    let mut body = Vec::new();
    let reusable = if chunked {
        Chunked { inner: &mut *connection, left: 0, done: false }
            .take(RESPONSE_BYTES_MAX)
            .read_to_end(&mut body)
            .map_err(Failure::DuringAnswer)?;
        // The chunked body ends with an empty trailer line.
        let mut trailer = String::new();
        connection.read_line(&mut trailer).map_err(Failure::DuringAnswer)?;
        !close
    } else if let Some(length) = length {
        if length > RESPONSE_BYTES_MAX {
            return Err(Failure::DuringAnswer(invalid("answer too large")));
        }
        (&mut *connection).take(length).read_to_end(&mut body).map_err(Failure::DuringAnswer)?;
        if (body.len() as u64) < length {
            return Err(Failure::DuringAnswer(invalid("connection closed in the body")));
        }
        !close
    } else {
        // Delimited by the connection's end: read it all; nothing can follow.
        (&mut *connection)
            .take(RESPONSE_BYTES_MAX)
            .read_to_end(&mut body)
            .map_err(Failure::DuringAnswer)?;
        false
    };
    Ok(((status, body), reusable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_stream_reads_as_its_bytes() {
        let wire: &[u8] = b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n";
        let mut out = String::new();
        Chunked { inner: wire, left: 0, done: false }.read_to_string(&mut out).unwrap();
        assert_eq!(out, "abcde");
        let mut bad = Chunked { inner: &b"zz\r\nabc"[..], left: 0, done: false };
        assert!(bad.read_to_string(&mut String::new()).is_err());
    }
}
