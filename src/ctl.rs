//! `entra-mock ctl <noun> <verb>`: the test-control API from a shell or a CI script, over the
//! plain-HTTP listener (`--url`, default `http://127.0.0.1:8080`), with no curl needed. Each
//! command is one call of `/_mock/`; the answer's JSON is printed, and a refused call exits 1.

use std::io::{Read, Write};

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct CtlArgs {
    /// The server's plain-HTTP base URL.
    #[arg(long, env = "ENTRA_MOCK_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The server's `--admin-token`, if it has one.
    #[arg(long, env = "ENTRA_MOCK_ADMIN_TOKEN")]
    pub token: Option<String>,
    /// A JSON body (faults add, tokens mint, signin create, users create/update, ...).
    #[arg(long)]
    pub json: Option<String>,
    /// `clock`, `keys`, `faults`, `tokens`, `signin`, `users`, `applications`, `groups`,
    /// `assignments`, `sessions`, `refresh-tokens`, `requests`, `findings`, `reset`, `openapi`.
    pub noun: String,
    /// What to do: `get`/`list`, `advance`, `set`, `rotate`, `add`, `remove`, `clear`, `mint`,
    /// `create`, `update`, `delete`, `totp`, `end`, `revoke`, `run`.
    #[arg(default_value = "list")]
    pub verb: String,
    /// The verb's arguments (seconds, a phase, an id, a key).
    pub args: Vec<String>,
}

/// One call of the test-control API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: Option<String>,
}

fn call(method: &'static str, path: impl Into<String>, body: Option<String>) -> Call {
    Call {
        method,
        path: path.into(),
        body,
    }
}

/// Percent-encodes a path segment (UPNs, `principal|resource|role` keys).
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The call a command stands for.
pub fn plan(a: &CtlArgs) -> anyhow::Result<Call> {
    let arg = |i: usize, what: &str| {
        a.args
            .get(i)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("`{} {}` needs {what}", a.noun, a.verb))
    };
    let json = || {
        a.json
            .clone()
            .ok_or_else(|| anyhow::anyhow!("`{} {}` needs --json '{{...}}'", a.noun, a.verb))
    };
    let number = |i: usize, what: &str| -> anyhow::Result<i64> {
        arg(i, what)?
            .parse()
            .map_err(|_| anyhow::anyhow!("{what} must be a whole number of seconds"))
    };
    let (noun, verb) = (a.noun.as_str(), a.verb.as_str());
    Ok(match (noun, verb) {
        ("clock", "get" | "list") => call("GET", "/_mock/clock", None),
        ("clock", "advance") => call(
            "POST",
            "/_mock/clock",
            Some(format!(r#"{{"advance":{}}}"#, number(0, "seconds")?)),
        ),
        ("clock", "set") => call(
            "POST",
            "/_mock/clock",
            Some(format!(r#"{{"offset":{}}}"#, number(0, "the offset")?)),
        ),
        ("clock", "reset") => call("DELETE", "/_mock/clock", None),
        ("keys", "get" | "list") => call("GET", "/_mock/keys", None),
        ("keys", "rotate") => call(
            "POST",
            "/_mock/keys/rotate",
            Some(serde_json::json!({ "phase": arg(0, "a phase")? }).to_string()),
        ),
        ("faults", "get" | "list") => call("GET", "/_mock/faults", None),
        ("faults", "add") => call("POST", "/_mock/faults", Some(json()?)),
        ("faults", "remove") => call(
            "DELETE",
            format!("/_mock/faults/{}", segment(&arg(0, "a rule id")?)),
            None,
        ),
        ("faults", "clear") => call("DELETE", "/_mock/faults", None),
        ("tokens", "mint") => call("POST", "/_mock/tokens", Some(json()?)),
        ("federation", "mint") => call("POST", "/_mock/federation/token", Some(json()?)),
        ("federation", "get" | "discovery") => call(
            "GET",
            "/_mock/federation/.well-known/openid-configuration",
            None,
        ),
        ("federation", "keys") => call("GET", "/_mock/federation/keys", None),
        ("signin", "create" | "run") => call("POST", "/_mock/signin", Some(json()?)),
        ("users", "totp") => call(
            "GET",
            format!("/_mock/users/{}/totp", segment(&arg(0, "a user")?)),
            None,
        ),
        ("users", "revoke-sessions") => call(
            "POST",
            format!(
                "/_mock/users/{}/revokeSignInSessions",
                segment(&arg(0, "a user")?)
            ),
            None,
        ),
        ("users" | "applications" | "groups" | "assignments", v) => match v {
            "get" | "list" => call("GET", format!("/_mock/{noun}"), None),
            "create" | "add" => call("POST", format!("/_mock/{noun}"), Some(json()?)),
            "update" => call(
                "PATCH",
                format!("/_mock/{noun}/{}", segment(&arg(0, "a key")?)),
                Some(json()?),
            ),
            "delete" | "remove" => call(
                "DELETE",
                format!("/_mock/{noun}/{}", segment(&arg(0, "a key")?)),
                None,
            ),
            _ => anyhow::bail!("unknown verb `{v}` for `{noun}`"),
        },
        ("sessions", "get" | "list") => call("GET", "/_mock/sessions", None),
        ("sessions", "end") => call(
            "DELETE",
            format!("/_mock/sessions/{}", segment(&arg(0, "a session id")?)),
            None,
        ),
        ("refresh-tokens", "get" | "list") => call("GET", "/_mock/refresh-tokens", None),
        ("refresh-tokens", "revoke") => call(
            "DELETE",
            format!("/_mock/refresh-tokens/{}", segment(&arg(0, "a family id")?)),
            None,
        ),
        ("requests", "get" | "list") => {
            // Filters as key=value arguments: endpoint=token client_id=... limit=5
            let query: Vec<(String, String)> = a
                .args
                .iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => Ok((k.to_string(), v.to_string())),
                    None => Err(anyhow::anyhow!("filters are key=value, got `{kv}`")),
                })
                .collect::<anyhow::Result<_>>()?;
            let q = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            call(
                "GET",
                if q.is_empty() {
                    "/_mock/requests".to_string()
                } else {
                    format!("/_mock/requests?{q}")
                },
                None,
            )
        }
        ("requests", "clear") => call("DELETE", "/_mock/requests", None),
        ("findings", "get" | "list") => call("GET", "/_mock/findings", None),
        ("reset", "list" | "run") => call(
            "POST",
            "/_mock/reset",
            Some(if a.args.iter().any(|x| x == "--keys" || x == "keys") {
                r#"{"keys":true}"#.to_string()
            } else {
                "{}".to_string()
            }),
        ),
        ("openapi", "get" | "list") => call("GET", "/_mock/openapi.json", None),
        _ => anyhow::bail!("unknown command `{noun} {verb}` (see `entra-mock ctl --help`)"),
    })
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Sends one call over plain HTTP/1.1 (the server's HTTP listener).
pub fn send(base: &str, token: Option<&str>, c: &Call) -> anyhow::Result<Answer> {
    let url = url::Url::parse(base)?;
    anyhow::ensure!(
        url.scheme() == "http",
        "ctl talks to the plain-HTTP listener: --url http://host:port"
    );
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("no host in {base}"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let mut stream = std::net::TcpStream::connect((host, port))
        .map_err(|e| anyhow::anyhow!("cannot reach entra-mock at {base}: {e}"))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let body = c.body.as_deref().unwrap_or("");
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nAccept: application/json\r\nContent-Length: {}\r\n",
        c.method,
        c.path,
        body.len()
    );
    if c.body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("an answer without headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("an answer without a status"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    // Chunks are counted in bytes, which may split a character: text only once whole.
    let body = if chunked {
        String::from_utf8_lossy(&dechunk(body)).into_owned()
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    Ok(Answer { status, body })
}

/// The body of a chunked answer.
fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line) = s.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&s[..line]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let rest = &s[line + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// Runs `entra-mock ctl ...`: prints the answer; `Err` for a refused call or no server.
pub fn run(a: &CtlArgs) -> anyhow::Result<String> {
    let c = plan(a)?;
    let answer = send(&a.url, a.token.as_deref(), &c)?;
    let shown = match serde_json::from_str::<serde_json::Value>(&answer.body) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or(answer.body.clone()),
        Err(_) => answer.body.clone(),
    };
    if (200..300).contains(&answer.status) {
        Ok(shown)
    } else {
        anyhow::bail!("{} {}: HTTP {}\n{shown}", c.method, c.path, answer.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(noun: &str, verb: &str, rest: &[&str], json: Option<&str>) -> CtlArgs {
        CtlArgs {
            url: "http://127.0.0.1:8080".into(),
            token: None,
            json: json.map(str::to_string),
            noun: noun.into(),
            verb: verb.into(),
            args: rest.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn commands_map_to_the_calls_of_the_api() {
        assert_eq!(
            plan(&args("clock", "advance", &["3600"], None)).unwrap(),
            call("POST", "/_mock/clock", Some(r#"{"advance":3600}"#.into()))
        );
        assert_eq!(
            plan(&args("keys", "rotate", &["roll-now"], None))
                .unwrap()
                .body
                .unwrap(),
            r#"{"phase":"roll-now"}"#
        );
        assert_eq!(
            plan(&args(
                "users",
                "totp",
                &["bob@contoso.onmicrosoft.com"],
                None
            ))
            .unwrap()
            .path,
            "/_mock/users/bob%40contoso.onmicrosoft.com/totp"
        );
        assert_eq!(
            plan(&args(
                "assignments",
                "delete",
                &["tool|api|Tasks.ReadWrite.All"],
                None
            ))
            .unwrap()
            .path,
            "/_mock/assignments/tool%7Capi%7CTasks.ReadWrite.All"
        );
        assert_eq!(
            plan(&args(
                "requests",
                "list",
                &["endpoint=token", "limit=2"],
                None
            ))
            .unwrap()
            .path,
            "/_mock/requests?endpoint=token&limit=2"
        );
        assert!(plan(&args("clock", "advance", &["soon"], None)).is_err());
        assert!(plan(&args("faults", "add", &[], None)).is_err());
        assert!(plan(&args("widgets", "list", &[], None)).is_err());
        assert_eq!(dechunk(b"4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n"), b"abcdef");
        // A chunk may end inside a character ("é" is two bytes).
        assert_eq!(
            dechunk(b"2\r\na\xc3\r\n1\r\n\xa9\r\n0\r\n\r\n"),
            "a\u{e9}".as_bytes()
        );
    }
}
