//! The commands, one module per resource. Each turns its arguments into API requests
//! and the answers into an [`Output`]; none prints.

pub mod host;
pub mod host_action;
pub mod notification;
pub mod recovery;
pub mod segment;
pub mod status;
pub mod vmove;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::client::LazarusClient;
use crate::error::{CliError, ClientError};
use crate::output::{Listing, Output, Record};

/// What every command runs with.
#[derive(Debug, Clone)]
pub struct Context {
    /// The API.
    pub client: LazarusClient,
    /// The wall-clock time the command started (for `--generated-time now`), read once
    /// by the binary so that commands never read a clock.
    pub now: DateTime<Utc>,
}

/// Fields every Masakari record carries that never say anything (soft-delete columns
/// of a live record).
const NOISE: &[&str] = &["deleted", "deleted_at"];

/// Percent-encodes one path segment (an id or a name given on the command line).
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A one-record output from `item`, `preferred` fields first, without the noise fields
/// and without `hidden` ones.
pub(crate) fn record(item: &Value, preferred: &[&str], hidden: &[&str]) -> Output {
    let mut r = Record::from_object(item, preferred);
    r.fields
        .retain(|(k, _)| !NOISE.contains(&k.as_str()) && !hidden.contains(&k.as_str()));
    Output::Record(r)
}

/// A listing output of the array `items` with `columns`.
pub(crate) fn listing(items: &Value, columns: &[&str]) -> Output {
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    Output::List(Listing::from_objects(columns, items))
}

/// Whether an error is the API's 404.
pub(crate) fn is_not_found(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status: 404, .. })
}

/// The one item of `candidates` whose `name` is `name`: none is the original 404
/// (`not_found`), several is an ambiguity to resolve with the id.
pub(crate) fn pick_by_name(
    kind: &str,
    name: &str,
    candidates: Vec<Value>,
    not_found: ClientError,
) -> Result<Value, CliError> {
    let mut matches: Vec<Value> = candidates
        .into_iter()
        .filter(|c| c.get("name").and_then(Value::as_str) == Some(name))
        .collect();
    match matches.len() {
        0 => Err(CliError::Client(not_found)),
        1 => Ok(matches.remove(0)),
        n => Err(CliError::Lookup(format!(
            "{n} {kind}s are named {name:?}; give the uuid instead"
        ))),
    }
}

/// The `uuid` field of a record.
pub(crate) fn uuid_of(item: &Value) -> Result<String, CliError> {
    item.get("uuid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| CliError::Lookup("the API returned a record without a uuid".to_owned()))
}
