//! The fuzz targets' HTTP side: one request sent byte for byte over a fresh connection
//! ([`raw_request`]), its answer read back without a client library that would normalise it, and
//! the properties every answer keeps whatever was sent ([`check_answer`]). The HTTP battery
//! (`tests/integration/battery/`) sends its requests and checks its answers the same way.

/// What came back: status, `Content-Type`, `Location`, body.
#[derive(Debug, Default)]
pub struct Answer {
    /// The status line and headers as received.
    pub head: String,
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub body: String,
}

/// One request over a fresh connection, bytes as given: the fuzzer's bad UTF-8 and
/// percent-encoding reach the server unchanged (an HTTP client library would refuse or normalise
/// them). Only bytes a request line cannot carry are percent-encoded.
pub async fn raw_request(
    base: &str,
    method: &str,
    target: &[u8],
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<Answer, String> {
    let addr = base
        .trim_start_matches("http://")
        .replace("localhost", "127.0.0.1");
    let host = base.trim_start_matches("http://");
    let mut request = Vec::with_capacity(target.len() + body.len() + 256);
    request.extend_from_slice(method.as_bytes());
    request.push(b' ');
    for &b in target {
        if (0x21..0x7f).contains(&b) {
            request.push(b);
        } else {
            request.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    request.extend_from_slice(b" HTTP/1.1\r\nConnection: close\r\n");
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("host") {
        request.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
    }
    for (name, value) in headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        // A header value carries visible bytes, spaces and tabs: anything else is refused by
        // actix's parser with a bare 400 before entra-mock sees the request.
        request.extend(value.iter().map(|&b| match b {
            b'\t' | b' '..=b'~' | 0x80..=0xff => b,
            _ => b' ',
        }));
        request.extend_from_slice(b"\r\n");
    }
    if (!body.is_empty() || method == "POST") && !has("content-length") {
        request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    if request.len() - body.len() > PARSER_LIMIT {
        // Past the HTTP parser's own limits (a request target over 64 KiB, a head over 128 KiB)
        // actix answers a bare 400 or 431, or resets the connection, before entra-mock sees the
        // request (README, "Limits and growth"). What is checked then: the server still answers.
        let _ = exchange(&addr, &request).await;
        let health = exchange(
            &addr,
            format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let answer = parse_answer(&health)?;
        return match answer.status {
            200 => Ok(Answer {
                status: 400,
                ..Answer::default()
            }),
            other => Err(format!(
                "/healthz answered {other} after an oversized request"
            )),
        };
    }
    parse_answer(&exchange(&addr, &request).await?)
}

/// Request heads longer than this are refused by actix's parser, not by entra-mock.
const PARSER_LIMIT: usize = 60 * 1024;

async fn exchange(addr: &str, request: &[u8]) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("no connection: {e}"))?;
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("request not sent: {e}"))?;
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut raw),
    )
    .await
    .map_err(|_| "no answer within 30 s".to_string())?
    .map_err(|e| format!("no answer: {e}"))?;
    Ok(raw)
}

fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete answer: {:?}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line: {head}"))?;
    let mut content_type = String::new();
    let mut location = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = value,
            "location" => location = Some(value),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Answer {
        head: head.into_owned(),
        status,
        content_type,
        location,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size without its line end")?;
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("a chunk cut short".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// The properties every answer keeps, whatever was sent.
pub fn check_answer(a: &Answer, base: &str, registered: &[String]) -> Result<(), String> {
    if a.status >= 500 {
        return Err(format!("status {}: {}", a.status, a.body));
    }
    if a.content_type.starts_with("application/json") && a.status >= 400 {
        let v: serde_json::Value =
            serde_json::from_str(&a.body).map_err(|e| format!("error body is not JSON: {e}"))?;
        let entra_shape = v["error"].is_string()
            && v["error_codes"].is_array()
            && v["trace_id"].is_string()
            && v["correlation_id"].is_string()
            && v["timestamp"].is_string()
            && v["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS") && d.contains("Trace ID: "));
        // Microsoft Graph's endpoints (`/v1.0/...`) answer in Graph's own error shape.
        let graph_shape = v["error"]["code"].is_string()
            && v["error"]["message"].is_string()
            && v["error"]["innerError"]["request-id"].is_string();
        if !entra_shape && !graph_shape {
            return Err(format!("not Entra's error shape: {}", a.body));
        }
    }
    if a.content_type.starts_with("text/html") && a.status >= 400 && !a.body.contains("AADSTS") {
        return Err(format!(
            "an error page without its AADSTS code: {}",
            a.status
        ));
    }
    if let Some(location) = &a.location {
        let own = location == base
            || location.starts_with(&format!("{base}/"))
            || (location.starts_with('/') && !location.starts_with("//"));
        // A registered URI followed by its query or fragment, never a longer path or host; a
        // loopback one on any port (Entra's localhost exception).
        let target = location.split(['?', '#']).next().unwrap_or_default();
        let registered = registered.iter().any(|uri| {
            location.strip_prefix(uri.as_str()).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('?') || rest.starts_with('#')
            }) || crate::directory::redirect_uri_matches(uri, target)
        });
        if !own && !registered {
            return Err(format!("Location off the registered URIs: {location}"));
        }
    }
    Ok(())
}
