//! A minimal HTTP/1.1 keep-alive client on one tokio `TcpStream`: one request at a time,
//! `Content-Length`, chunked or read-to-close bodies, `Connection: close` honoured. Much cheaper
//! per request than a general-purpose client, so the load generator's one core is not what the
//! figures measure. Each [`Conn`] is one "browser connection" of the load phases.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status, the raw header block and the whole body.
pub struct Response {
    pub status: u16,
    head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.headers(name).next()
    }

    /// Every value of header `name` (case-insensitive), e.g. each `Set-Cookie`.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.split("\r\n").skip(1).filter_map(move |line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    /// The body as text (empty when it is not UTF-8).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }

    /// The first 300 characters of the body, for failure messages.
    pub fn snippet(&self) -> String {
        self.text().chars().take(300).collect()
    }
}

/// One keep-alive connection to `addr`, sending `Host: host`.
pub struct Conn {
    addr: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl Conn {
    pub fn new(addr: SocketAddr, host: &str) -> Conn {
        Conn {
            addr,
            host: host.to_string(),
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            out: Vec::with_capacity(4 * 1024),
        }
    }

    /// Opens the TCP connection now (a load phase opens its connections before the clock runs).
    pub async fn connect(&mut self) -> io::Result<()> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        Ok(())
    }

    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> io::Result<Response> {
        self.request("GET", path, headers, None, b"").await
    }

    pub async fn post_form(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let ct = Some("application/x-www-form-urlencoded");
        self.request("POST", path, headers, ct, body).await
    }

    pub async fn post_json(&mut self, path: &str, body: &str) -> io::Result<Response> {
        self.request("POST", path, &[], Some("application/json"), body.as_bytes())
            .await
    }

    /// Sends one request and reads its response. A reused connection the server closed while
    /// idle (nothing of the response read) is reopened once and the request sent again.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        content_type: Option<&str>,
        body: &[u8],
    ) -> io::Result<Response> {
        self.out.clear();
        let o = &mut self.out;
        o.extend_from_slice(method.as_bytes());
        o.push(b' ');
        o.extend_from_slice(path.as_bytes());
        o.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        o.extend_from_slice(self.host.as_bytes());
        o.extend_from_slice(b"\r\nUser-Agent: entra-mock-bench\r\nAccept: */*\r\n");
        for (k, v) in headers {
            o.extend_from_slice(k.as_bytes());
            o.extend_from_slice(b": ");
            o.extend_from_slice(v.as_bytes());
            o.extend_from_slice(b"\r\n");
        }
        if let Some(ct) = content_type {
            o.extend_from_slice(b"Content-Type: ");
            o.extend_from_slice(ct.as_bytes());
            o.extend_from_slice(b"\r\n");
        }
        if method != "GET" || !body.is_empty() {
            o.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        o.extend_from_slice(b"\r\n");
        o.extend_from_slice(body);

        for attempt in 0..2 {
            let reused = self.stream.is_some();
            self.connect().await?;
            match self.exchange().await {
                Ok(r) => return Ok(r),
                Err((e, got_bytes)) => {
                    self.stream = None;
                    if attempt == 0 && reused && !got_bytes && stale(&e) {
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// Writes `self.out`, reads one response. The error says whether any response byte came.
    async fn exchange(&mut self) -> Result<Response, (io::Error, bool)> {
        let stream = self.stream.as_mut().expect("connected");
        stream.write_all(&self.out).await.map_err(|e| (e, false))?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            let got = !self.buf.is_empty();
            self.fill().await.map_err(|e| (e, got))?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end);
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| (invalid(format!("bad status line: {head}")), true))?;
        let mut res = Response {
            status,
            head,
            body: Vec::new(),
        };
        let close = res
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let chunked = res
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length = res
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok());
        let body = if status == 204 || status == 304 || (100..200).contains(&status) {
            Vec::new()
        } else if chunked {
            self.read_chunked().await.map_err(|e| (e, true))?
        } else if let Some(n) = length {
            self.read_exact_body(n).await.map_err(|e| (e, true))?
        } else {
            self.read_to_close().await.map_err(|e| (e, true))?
        };
        res.body = body;
        if close || (!chunked && length.is_none()) {
            self.stream = None;
        }
        Ok(res)
    }

    /// Reads more bytes into `buf`; end of stream is an error.
    async fn fill(&mut self) -> io::Result<()> {
        let stream = self.stream.as_mut().expect("connected");
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn read_exact_body(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("bad chunk size: {line}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.read_exact_body(size).await?);
            self.read_exact_body(2).await?;
        }
    }

    async fn read_to_close(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match self.fill().await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(std::mem::take(&mut self.buf));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The errors of a keep-alive connection the server had already closed.
fn stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The JSON string value of `"key":"..."` in `body` (no escapes expected: tokens, codes).
pub fn json_str<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let from = body.find(&pat)? + pat.len();
    let len = body[from..].find('"')?;
    Some(&body[from..from + len])
}

/// How many JWTs (signatures) a token response carries: `access_token` and `id_token`.
pub fn jwt_count(body: &str) -> u32 {
    ["access_token", "id_token"]
        .iter()
        .filter(|k| json_str(body, k).is_some_and(|t| t.starts_with("eyJ") && t.contains('.')))
        .count() as u32
}
