//! One HTTP/1.1 request over a fresh TCP connection, with timeouts and a bounded answer.

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

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

pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<(u16, Vec<u8>)> {
    let stream = send(addr, method, path, extra_headers, content_type, body, timeout)?;
    let mut response = Vec::new();
    stream.take(RESPONSE_BYTES_MAX).read_to_end(&mut response)?;
    let split =
        response.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| invalid("head"))?;
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let status: u16 =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| invalid("status"))?;
    let body = &response[split + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body).ok_or_else(|| invalid("chunks"))?
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..end]).ok()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let start = end.checked_add(2)?;
        out.extend_from_slice(data.get(start..start.checked_add(size)?)?);
        data = data.get(start.checked_add(size)?.checked_add(2)?..)?;
    }
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

    #[test]
    fn chunked_bodies_are_joined_and_garbage_refused() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(), b"abcde");
        assert!(dechunk(b"zz\r\nabc").is_none());
        assert!(dechunk(b"ff\r\nabc").is_none());
    }
}
