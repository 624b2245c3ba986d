//! Request body validation, following Masakari's JSON schemas field by field.
//!
//! Masakari validates bodies with jsonschema (`additionalProperties: false`, lengths,
//! patterns, enums) and answers 400 with a message naming the field. The same rules are
//! written out here as small checks over `serde_json::Value`, so every malformed body is
//! a 400 with a message and never reaches the store.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::error::ApiError;
use lazarus_store::Time;

/// Parses a request body as JSON.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "Malformed request body: the body is empty.",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "Malformed request body: cannot understand JSON ({e})."
        ))
    })
}

fn invalid(path: &str, value: &Value, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid input for field/attribute {path}. Value: {value}. {message}"
    ))
}

/// Checks that `body` is `{ key: { ... } }` and nothing else, and returns the inner object.
pub fn envelope<'a>(body: &'a Value, key: &'a str) -> Result<Obj<'a>, ApiError> {
    let Some(outer) = body.as_object() else {
        return Err(invalid("", body, format!("{body} is not of type 'object'")));
    };
    if let Some(extra) = outer.keys().find(|k| k.as_str() != key) {
        return Err(ApiError::bad_request(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let Some(inner) = outer.get(key) else {
        return Err(ApiError::bad_request(format!(
            "'{key}' is a required property"
        )));
    };
    let Some(map) = inner.as_object() else {
        return Err(invalid(
            key,
            inner,
            format!("{inner} is not of type 'object'"),
        ));
    };
    Ok(Obj {
        map,
        value: inner,
        path: key,
    })
}

/// A JSON object being validated, with its path for messages.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    value: &'a Value,
    path: &'a str,
}

impl<'a> Obj<'a> {
    /// Wraps `value` (which must be an object) found at `path`.
    pub fn at(value: &'a Value, path: &'a str) -> Result<Self, ApiError> {
        match value.as_object() {
            Some(map) => Ok(Obj { map, value, path }),
            None => Err(invalid(
                path,
                value,
                format!("{value} is not of type 'object'"),
            )),
        }
    }

    /// The underlying map.
    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.path)
        }
    }

    /// Refuses any key not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(extra) => Err(invalid(
                self.path,
                self.value,
                format!("Additional properties are not allowed ('{extra}' was unexpected)"),
            )),
            None => Ok(()),
        }
    }

    /// Requires every key of `keys`.
    pub fn require(&self, keys: &[&str]) -> Result<(), ApiError> {
        match keys.iter().find(|k| !self.map.contains_key(**k)) {
            Some(missing) => Err(invalid(
                self.path,
                self.value,
                format!("'{missing}' is a required property"),
            )),
            None => Ok(()),
        }
    }

    /// Requires at least one key of `keys` (Masakari's `anyOf` on updates).
    pub fn any_of(&self, keys: &[&str]) -> Result<(), ApiError> {
        if keys.iter().any(|k| self.map.contains_key(*k)) {
            Ok(())
        } else {
            Err(invalid(
                self.path,
                self.value,
                format!(
                    "{} is not valid under any of the given schemas (give one of {})",
                    self.value,
                    keys.join(", ")
                ),
            ))
        }
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(invalid(
                &self.field_path(key),
                v,
                format!("{v} is not of type 'string'"),
            )),
        }
    }

    fn length(&self, key: &str, s: &str, min: usize, max: usize) -> Result<(), ApiError> {
        let n = s.chars().count();
        let v = Value::String(s.to_owned());
        if n < min {
            return Err(invalid(
                &self.field_path(key),
                &v,
                format!("{v} is too short"),
            ));
        }
        if n > max {
            return Err(invalid(
                &self.field_path(key),
                &v,
                format!("{v} is too long"),
            ));
        }
        Ok(())
    }

    /// Masakari's `name`: 1-255 printable characters, not starting or ending with
    /// whitespace.
    pub fn name(&self, key: &str) -> Result<Option<String>, ApiError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        self.length(key, s, 1, 255)?;
        let bad_edge = |c: Option<char>| c.is_some_and(char::is_whitespace);
        if s.chars().any(char::is_control)
            || bad_edge(s.chars().next())
            || bad_edge(s.chars().last())
        {
            return Err(invalid(
                &self.field_path(key),
                &Value::String(s.to_owned()),
                "An invalid 'name' value was provided. The name must be: printable characters. \
                 Can not start or end with whitespace.",
            ));
        }
        Ok(Some(s.to_owned()))
    }

    /// Masakari's `description`: a string of printable characters (newlines allowed) or
    /// null. `Some(None)` is an explicit null.
    pub fn description(&self, key: &str) -> Result<Option<Option<String>>, ApiError> {
        if matches!(self.map.get(key), Some(Value::Null)) {
            return Ok(Some(None));
        }
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid(
                &self.field_path(key),
                &Value::String(s.to_owned()),
                "must consist of printable characters",
            ));
        }
        Ok(Some(Some(s.to_owned())))
    }

    /// A required-when-present text field that Masakari types as `description` but stores
    /// NOT NULL (`control_attributes`): a string, never null.
    pub fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.description(key)? {
            Some(Some(s)) => Ok(Some(s)),
            Some(None) => Err(invalid(
                &self.field_path(key),
                &Value::Null,
                "None is not of type 'string'",
            )),
            None => Ok(None),
        }
    }

    /// Masakari's host `type`: up to 255 characters of `[a-zA-Z0-9]`.
    pub fn alnum(&self, key: &str) -> Result<Option<String>, ApiError> {
        if matches!(self.map.get(key), Some(Value::Null)) {
            return Err(invalid(
                &self.field_path(key),
                &Value::Null,
                "None is not of type 'string'",
            ));
        }
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        self.length(key, s, 0, 255)?;
        if !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid(
                &self.field_path(key),
                &Value::String(s.to_owned()),
                format!("'{s}' does not match '^[a-zA-Z0-9]*$'"),
            ));
        }
        Ok(Some(s.to_owned()))
    }

    /// Masakari's `hostname`: 1-255 characters of `[a-zA-Z0-9-._]`.
    pub fn hostname(&self, key: &str) -> Result<Option<String>, ApiError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        self.length(key, s, 1, 255)?;
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(invalid(
                &self.field_path(key),
                &Value::String(s.to_owned()),
                format!("'{s}' does not match '^[a-zA-Z0-9-._]*$'"),
            ));
        }
        Ok(Some(s.to_owned()))
    }

    /// Masakari's `boolean`: `true`/`false` or one of its accepted strings.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v @ Value::String(s)) => match s.as_str() {
                "True" | "TRUE" | "true" | "1" | "ON" | "On" | "on" | "YES" | "Yes" | "yes" => {
                    Ok(Some(true))
                }
                "False" | "FALSE" | "false" | "0" | "OFF" | "Off" | "off" | "NO" | "No" | "no" => {
                    Ok(Some(false))
                }
                _ => Err(invalid(
                    &self.field_path(key),
                    v,
                    format!(
                        "{v} is not one of [true, 'True', 'TRUE', 'true', '1', 'ON', 'On', \
                             'on', 'YES', 'Yes', 'yes', false, 'False', 'FALSE', 'false', '0', \
                             'OFF', 'Off', 'off', 'NO', 'No', 'no']"
                    ),
                )),
            },
            Some(v) => Err(invalid(
                &self.field_path(key),
                v,
                format!("{v} is not of type 'boolean', 'string'"),
            )),
        }
    }

    /// One of `allowed`, exactly.
    pub fn one_of(&self, key: &str, allowed: &[&str]) -> Result<Option<&'a str>, ApiError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        if allowed.contains(&s) {
            Ok(Some(s))
        } else {
            Err(invalid(
                &self.field_path(key),
                &Value::String(s.to_owned()),
                format!("'{s}' is not one of {allowed:?}"),
            ))
        }
    }

    /// A free string of `min..=max` characters.
    pub fn bounded(&self, key: &str, min: usize, max: usize) -> Result<Option<String>, ApiError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        self.length(key, s, min, max)?;
        Ok(Some(s.to_owned()))
    }

    /// An ISO 8601 date-time.
    pub fn datetime(&self, key: &str) -> Result<Option<Time>, ApiError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        parse_isotime(s).map(Some).ok_or_else(|| {
            invalid(
                &self.field_path(key),
                &Value::String(s.to_owned()),
                format!("'{s}' is not a 'date-time'"),
            )
        })
    }

    /// A UUID in canonical or compact form.
    pub fn uuid(&self, key: &str) -> Result<Option<String>, ApiError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        match uuid::Uuid::try_parse(s) {
            Ok(_) => Ok(Some(s.to_owned())),
            Err(_) => Err(invalid(
                &self.field_path(key),
                &Value::String(s.to_owned()),
                format!("'{s}' is not a 'uuid'"),
            )),
        }
    }
}

/// Parses an ISO 8601 time as oslo's `parse_isotime` accepts it: date and time with `T`
/// or a space, optional fraction, optional `Z` or offset (naive means UTC), or a bare
/// date. Returns UTC.
pub fn parse_isotime(s: &str) -> Option<Time> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn isotimes_in_the_forms_monitors_send_parse_to_utc() {
        let want = parse_isotime("2017-04-24T08:34:46Z").unwrap();
        for s in [
            "2017-04-24 08:34:46",
            "2017-04-24T08:34:46",
            "2017-04-24T08:34:46.000000",
            "2017-04-24T10:34:46+02:00",
            "2017-04-24T10:34:46+0200",
            "2017-04-24 08:34:46Z",
        ] {
            assert_eq!(parse_isotime(s), Some(want), "{s}");
        }
        assert!(parse_isotime("2017-04-24").is_some());
        for bad in [
            "yesterday",
            "2017-13-01T00:00:00",
            "",
            "2017-04-24T25:00:00",
        ] {
            assert_eq!(parse_isotime(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_must_be_printable_and_trimmed() {
        let body = json!({"s": {"a": "ok name", "b": " lead", "c": "tail ", "d": "", "e": "a\u{7}b",
                                "f": "x".repeat(256), "g": 5}});
        let o = envelope(&body, "s").unwrap();
        assert_eq!(o.name("a").unwrap().as_deref(), Some("ok name"));
        for k in ["b", "c", "d", "e", "f", "g"] {
            assert!(o.name(k).is_err(), "{k}");
        }
        assert_eq!(o.name("missing").unwrap(), None);
    }

    #[test]
    fn envelopes_refuse_other_keys_and_non_objects() {
        assert!(envelope(&json!({"segment": {}, "x": 1}), "segment").is_err());
        assert!(envelope(&json!({"segment": []}), "segment").is_err());
        assert!(envelope(&json!([]), "segment").is_err());
        assert!(envelope(&json!({}), "segment").is_err());
        let b = json!({"segment": {"name": "n", "bogus": 1}});
        let e = envelope(&b, "segment")
            .unwrap()
            .only(&["name"])
            .unwrap_err();
        assert!(
            e.message.contains("'bogus' was unexpected"),
            "{}",
            e.message
        );
    }

    #[test]
    fn masakari_boolean_strings_are_accepted_and_others_refused() {
        let b = json!({"h": {"a": "True", "b": "off", "c": true, "d": "maybe", "e": 1}});
        let o = envelope(&b, "h").unwrap();
        assert_eq!(o.boolean("a").unwrap(), Some(true));
        assert_eq!(o.boolean("b").unwrap(), Some(false));
        assert_eq!(o.boolean("c").unwrap(), Some(true));
        assert!(o.boolean("d").is_err());
        assert!(o.boolean("e").is_err());
    }
}
