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
    // Only a connection the node closed while it was idle is retried; a timeout is not (the
    // request may be in progress).
    let closed = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe => Failure::BeforeAnswer(e),
        _ => Failure::DuringAnswer(e),
    };
    connection.get_mut().write_all(&message).map_err(closed)?;
    let mut status_line = String::new();
    match connection.read_line(&mut status_line) {
        Ok(0) => return Err(Failure::BeforeAnswer(invalid("connection closed before the answer"))),
        Ok(_) => {}
        Err(e) => return Err(closed(e)),
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
    let reusable = if matches!(status, 100..=199 | 204 | 304) {
        // No body, whatever the head says.
        !close
    } else if chunked {
        Chunked { inner: &mut *connection, left: 0, done: false }
            .take(RESPONSE_BYTES_MAX + 1)
            .read_to_end(&mut body)
            .map_err(Failure::DuringAnswer)?;
        if body.len() as u64 > RESPONSE_BYTES_MAX {
            return Err(Failure::DuringAnswer(invalid("answer too large")));
        }
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

    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How the test server answers.
    #[derive(Clone, Copy)]
    enum Answer {
        /// `Content-Length`, connection kept open for more requests.
        KeepAlive,
        /// `Content-Length`, then the server closes the connection (as a node does once its
        /// idle timeout passes).
        CloseAfterOne,
        /// `Connection: close` in the head, but the server would keep serving.
        SaysClose,
        /// A chunked body, connection kept open.
        Chunked,
    }

    /// A tiny HTTP/1.1 server on loopback answering every request per `answer`, and the number
    /// of connections it has accepted.
    fn server(answer: Answer) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepts = Arc::new(AtomicUsize::new(0));
        let counted = accepts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || serve_connection(stream, answer));
            }
        });
        (addr, accepts)
    }

    /// Serves requests (bodiless, as the tests send) on one connection until it ends.
    fn serve_connection(stream: TcpStream, answer: Answer) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut served = 0u32;
        loop {
            // The request head, up to its empty line.
            let mut request_line = String::new();
            match reader.read_line(&mut request_line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            assert!(request_line.starts_with("GET /x HTTP/1.1"), "{request_line:?}");
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => assert!(!line.to_ascii_lowercase().starts_with("connection: close")),
                }
            }
            served += 1;
            let body = format!("answer {served}");
            let response = match answer {
                Answer::KeepAlive | Answer::CloseAfterOne => format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
                Answer::SaysClose => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                Answer::Chunked => format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nans\r\n{:x};ext=1\r\n{}\r\n0\r\n\r\n",
                    body.len() - 3,
                    &body[3..]
                ),
            };
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
            if matches!(answer, Answer::CloseAfterOne) {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }

    fn get(pool: &Pool, addr: SocketAddr) -> (u16, String) {
        let (status, body) =
            request(pool, addr, "GET", "/x", "", "application/json", b"", Duration::from_secs(5))
                .unwrap();
        (status, String::from_utf8(body).unwrap())
    }

    fn idle(pool: &Pool) -> usize {
        pool.idle.lock().unwrap().len()
    }

    #[test]
    fn a_keep_alive_connection_carries_the_next_request() {
        let (addr, accepts) = server(Answer::KeepAlive);
        let pool = Pool::default();
        assert_eq!(get(&pool, addr), (200, "answer 1".to_string()));
        assert_eq!(idle(&pool), 1, "kept for the next request");
        assert_eq!(get(&pool, addr), (200, "answer 2".to_string()), "the same connection");
        assert_eq!(get(&pool, addr), (200, "answer 3".to_string()));
        assert_eq!(accepts.load(Ordering::SeqCst), 1, "one connection for all three");
        assert_eq!(idle(&pool), 1);
    }

    #[test]
    fn a_connection_the_server_closed_is_replaced_by_a_fresh_one() {
        let (addr, accepts) = server(Answer::CloseAfterOne);
        let pool = Pool::default();
        assert_eq!(get(&pool, addr), (200, "answer 1".to_string()));
        assert_eq!(idle(&pool), 1, "nothing said it would close");
        // Let the close arrive, as it would for a connection idle past the node's timeout.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(get(&pool, addr), (200, "answer 1".to_string()), "answered on a new one");
        assert_eq!(accepts.load(Ordering::SeqCst), 2);
        // Without a pause the request may reach the connection before its close or after:
        // either way it is answered, on a fresh connection.
        assert_eq!(get(&pool, addr), (200, "answer 1".to_string()));
        assert_eq!(accepts.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn an_answer_saying_connection_close_is_not_reused() {
        let (addr, accepts) = server(Answer::SaysClose);
        let pool = Pool::default();
        assert_eq!(get(&pool, addr), (200, "answer 1".to_string()));
        assert_eq!(idle(&pool), 0, "not kept");
        assert_eq!(get(&pool, addr), (200, "answer 1".to_string()), "a fresh connection");
        assert_eq!(accepts.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_chunked_answer_is_read_whole_and_its_connection_reused() {
        let (addr, accepts) = server(Answer::Chunked);
        let pool = Pool::default();
        assert_eq!(get(&pool, addr), (200, "answer 1".to_string()));
        assert_eq!(get(&pool, addr), (200, "answer 2".to_string()), "nothing of it left over");
        assert_eq!(accepts.load(Ordering::SeqCst), 1);
        assert_eq!(idle(&pool), 1);
    }
}
