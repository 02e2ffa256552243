//! The GOCACHEPROG wire protocol as the go command speaks it (`cmd/go/internal/cacheprog`,
//! client in `cmd/go/internal/cache/prog.go`): newline-delimited JSON on stdin/stdout, `[]byte`
//! fields as standard base64, a `put` body on the line after its request as a JSON string of
//! base64, responses in any order matched by `ID`.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The commands this program answers, announced in the first response (`ID` 0).
pub const KNOWN_COMMANDS: [&str; 3] = ["get", "put", "close"];

/// A 32-byte cache key or content hash (Go's `ActionID` / `OutputID`).
pub type Id = [u8; 32];

/// One request from the go command, its body read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Echoed in the response.
    pub id: i64,
    /// What to do.
    pub command: Command,
}

/// The request's command and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Look an action up.
    Get {
        /// The action.
        action: Id,
    },
    /// Store an action's output.
    Put {
        /// The action.
        action: Id,
        /// The SHA-256 of `body`, as the go command computed it.
        output: Id,
        /// The output itself.
        body: Vec<u8>,
    },
    /// Finish: flush, answer, exit.
    Close,
    /// A command this program did not announce (the go command never sends one).
    Unknown(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRequest {
    #[serde(rename = "ID")]
    id: i64,
    command: String,
    #[serde(rename = "ActionID", default)]
    action_id: Option<String>,
    #[serde(rename = "OutputID", default)]
    output_id: Option<String>,
    #[serde(default)]
    body_size: i64,
}

/// A response to the go command. Fields left empty are omitted, as Go's `omitempty` does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    /// The request's `ID` (0 for the capability announcement).
    #[serde(rename = "ID")]
    pub id: i64,
    /// An error for this request.
    #[serde(rename = "Err", skip_serializing_if = "String::is_empty")]
    pub err: String,
    /// The commands this program answers (first message only).
    #[serde(rename = "KnownCommands", skip_serializing_if = "Vec::is_empty")]
    pub known_commands: Vec<String>,
    /// A `get` miss.
    #[serde(rename = "Miss", skip_serializing_if = "std::ops::Not::not")]
    pub miss: bool,
    /// A `get` hit's OutputID, base64.
    #[serde(rename = "OutputID", skip_serializing_if = "Option::is_none")]
    pub output_id: Option<String>,
    /// A `get` hit's size.
    #[serde(rename = "Size", skip_serializing_if = "is_zero")]
    pub size: u64,
    /// When the entry was put (RFC 3339).
    #[serde(rename = "Time", skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The absolute path of the body on disk (`get` hit and `put`).
    #[serde(rename = "DiskPath", skip_serializing_if = "String::is_empty")]
    pub disk_path: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Response {
    /// The capability announcement the program sends first.
    pub fn hello() -> Self {
        Self {
            known_commands: KNOWN_COMMANDS.iter().map(|s| s.to_string()).collect(),
            ..Self::default()
        }
    }

    /// A `get` miss.
    pub fn miss(id: i64) -> Self {
        Self {
            id,
            miss: true,
            ..Self::default()
        }
    }

    /// A `get` hit.
    pub fn hit(id: i64, output: &Id, size: u64, time: Option<String>, disk_path: String) -> Self {
        Self {
            id,
            output_id: Some(STANDARD.encode(output)),
            size,
            time,
            disk_path,
            ..Self::default()
        }
    }

    /// A stored `put`.
    pub fn stored(id: i64, disk_path: String) -> Self {
        Self {
            id,
            disk_path,
            ..Self::default()
        }
    }

    /// An error answer.
    pub fn error(id: i64, err: impl Into<String>) -> Self {
        Self {
            id,
            err: err.into(),
            ..Self::default()
        }
    }

    /// The response as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).expect("a response serializes");
        s.push('\n');
        s
    }
}

fn decode_id(field: &str, v: Option<&str>) -> Result<Id> {
    let v = v.with_context(|| format!("request without {field}"))?;
    let bytes = STANDARD
        .decode(v)
        .with_context(|| format!("{field} is not base64"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| anyhow::anyhow!("{field} has {} bytes, not 32", b.len()))
}

/// Reads the next request, skipping the blank lines the go command leaves between them
/// (`json.Encoder` ends each object with a newline and `writeToChild` adds another).
/// `Ok(None)` at end of input.
pub fn read_request(r: &mut impl BufRead) -> Result<Option<Request>> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).context("reading a request")? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let raw: RawRequest = serde_json::from_str(line.trim())
        .with_context(|| format!("not a request: {}", line.trim()))?;
    let command = match raw.command.as_str() {
        "get" => Command::Get {
            action: decode_id("ActionID", raw.action_id.as_deref())?,
        },
        "put" => {
            let action = decode_id("ActionID", raw.action_id.as_deref())?;
            let output = decode_id("OutputID", raw.output_id.as_deref())?;
            let body = if raw.body_size > 0 {
                read_body(r, raw.body_size as u64)?
            } else {
                Vec::new()
            };
            Command::Put {
                action,
                output,
                body,
            }
        }
        "close" => Command::Close,
        other => Command::Unknown(other.to_string()),
    };
    Ok(Some(Request {
        id: raw.id,
        command,
    }))
}

fn read_body(r: &mut impl BufRead, size: u64) -> Result<Vec<u8>> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).context("reading a put body")? == 0 {
            bail!("end of input before a put body");
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let b64: String = serde_json::from_str(line.trim()).context("a put body is not a string")?;
    let body = STANDARD.decode(b64).context("a put body is not base64")?;
    if body.len() as u64 != size {
        bail!(
            "a put body has {} bytes, its request said {size}",
            body.len()
        );
    }
    Ok(body)
}

/// Lowercase hex of an id (object names and file names).
pub fn hex(id: &Id) -> String {
    hex::encode(id)
}

/// Parses lowercase hex back into an id.
pub fn parse_hex(s: &str) -> Option<Id> {
    hex::decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn b64(b: &[u8]) -> String {
        STANDARD.encode(b)
    }

    #[test]
    fn reads_requests_as_go_writes_them() {
        let body = b"hello, cache";
        let out: Id = Sha256::digest(body).into();
        let action = [7u8; 32];
        // Exactly what prog.go writes: Encode (object + '\n'), '\n', then the body line.
        let wire = format!(
            "{{\"ID\":1,\"Command\":\"get\",\"ActionID\":\"{a}\"}}\n\n\
             {{\"ID\":2,\"Command\":\"put\",\"ActionID\":\"{a}\",\"OutputID\":\"{o}\",\"BodySize\":{n}}}\n\n\
             \"{b}\"\n\
             {{\"ID\":3,\"Command\":\"put\",\"ActionID\":\"{a}\",\"OutputID\":\"{e}\"}}\n\n\
             {{\"ID\":4,\"Command\":\"close\"}}\n\n",
            a = b64(&action),
            o = b64(&out),
            n = body.len(),
            b = b64(body),
            e = b64(&Sha256::digest(b"")),
        );
        let mut r = std::io::Cursor::new(wire.into_bytes());
        let got: Vec<Request> = std::iter::from_fn(|| read_request(&mut r).unwrap()).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].command, Command::Get { action });
        assert_eq!(
            got[1].command,
            Command::Put {
                action,
                output: out,
                body: body.to_vec()
            }
        );
        match &got[2].command {
            Command::Put { body, .. } => assert!(body.is_empty()),
            c => panic!("{c:?}"),
        }
        assert_eq!(
            got[3],
            Request {
                id: 4,
                command: Command::Close
            }
        );
    }

    #[test]
    fn a_short_body_is_an_error() {
        let wire = format!(
            "{{\"ID\":1,\"Command\":\"put\",\"ActionID\":\"{a}\",\"OutputID\":\"{a}\",\"BodySize\":9}}\n\n\"{b}\"\n",
            a = b64(&[1; 32]),
            b = b64(b"short")
        );
        let err = read_request(&mut std::io::Cursor::new(wire)).unwrap_err();
        assert!(format!("{err:#}").contains("5 bytes"), "{err:#}");
    }

    #[test]
    fn responses_omit_empty_fields_like_go() {
        assert_eq!(
            Response::hello().to_line(),
            "{\"ID\":0,\"KnownCommands\":[\"get\",\"put\",\"close\"]}\n"
        );
        assert_eq!(Response::miss(5).to_line(), "{\"ID\":5,\"Miss\":true}\n");
        let hit = Response::hit(6, &[0; 32], 12, None, "/c/o".into()).to_line();
        assert_eq!(
            hit,
            format!(
                "{{\"ID\":6,\"OutputID\":\"{}\",\"Size\":12,\"DiskPath\":\"/c/o\"}}\n",
                b64(&[0; 32])
            )
        );
    }
}
