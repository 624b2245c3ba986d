//! Per-host agent tokens: a shared secret per compute host.
//!
//! The agent reads its token from a file (`[controller] token_file`); the controller
//! reads every host's token from a directory with one file per host, named after the
//! host (`/etc/lazarus/agent-tokens/cmp-01`). Provisioning: `head -c 32 /dev/urandom |
//! base64 > cmp-01`, mode 0600, copied to the host as its agent's token file. A token
//! is compared in constant time and never printed (its `Debug` is `***`).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use lazarus_core::HostName;
use subtle::ConstantTimeEq;

/// Shortest token accepted (bytes, after trimming surrounding whitespace).
pub const MIN_TOKEN_LEN: usize = 16;

/// One secret token.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentToken(String);

impl fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgentToken(***)")
    }
}

/// Why a token could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file or directory could not be read.
    #[error("cannot read agent token {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token is too short or not printable.
    #[error("agent token {path} is unusable: {reason}")]
    Invalid {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl AgentToken {
    /// Wraps a token (trimmed), refusing short or non-printable ones.
    pub fn new(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.len() < MIN_TOKEN_LEN {
            return Err(format!("shorter than {MIN_TOKEN_LEN} bytes"));
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("contains spaces or non-ASCII bytes".into());
        }
        Ok(Self(t.to_owned()))
    }

    /// Reads a token file.
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::new(&text).map_err(|reason| TokenError::Invalid {
            path: path.to_owned(),
            reason,
        })
    }

    /// The token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with a presented token in constant time (for equal lengths; the length
    /// itself is not secret).
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// Every host's token, on the controller.
#[derive(Debug, Default, Clone)]
pub struct AgentTokens {
    by_host: HashMap<HostName, AgentToken>,
}

impl AgentTokens {
    /// No tokens: every heartbeat is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces one host's token.
    pub fn insert(&mut self, host: HostName, token: AgentToken) {
        self.by_host.insert(host, token);
    }

    /// Loads a directory with one token file per host, named after the host. Files
    /// whose name starts with a dot are skipped.
    pub fn from_dir(dir: &Path) -> Result<Self, TokenError> {
        let read_err = |source| TokenError::Read {
            path: dir.to_owned(),
            source,
        };
        let mut tokens = Self::new();
        for entry in std::fs::read_dir(dir).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if name.starts_with('.') || !entry.path().is_file() {
                continue;
            }
            tokens.insert(HostName::from(name), AgentToken::from_file(&entry.path())?);
        }
        Ok(tokens)
    }

    /// `host`'s token, if it has one.
    pub fn get(&self, host: &HostName) -> Option<&AgentToken> {
        self.by_host.get(host)
    }

    /// Whether `presented` is `host`'s token. An unknown host fails like a wrong token.
    pub fn verify(&self, host: &HostName, presented: &str) -> bool {
        match self.by_host.get(host) {
            Some(t) => t.matches(presented),
            None => false,
        }
    }

    /// The hosts that have a token (the controller expects an agent on each).
    pub fn hosts(&self) -> impl Iterator<Item = &HostName> {
        self.by_host.keys()
    }

    /// How many hosts have a token.
    pub fn len(&self) -> usize {
        self.by_host.len()
    }

    /// Whether no host has a token.
    pub fn is_empty(&self) -> bool {
        self.by_host.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_only_itself() {
        let t = AgentToken::new("0123456789abcdef-secret\n").unwrap();
        assert!(t.matches("0123456789abcdef-secret"));
        assert!(!t.matches("0123456789abcdef-secreT"));
        assert!(!t.matches("0123456789abcdef-secre"));
        assert!(!t.matches(""));
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        assert!(AgentToken::new("short").is_err());
        assert!(AgentToken::new("0123456789 abcdef ghij").is_err());
    }

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let t = AgentToken::new("0123456789abcdef-secret").unwrap();
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn a_token_directory_maps_file_names_to_hosts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cmp-01"), "token-of-cmp-01-xxxxxxxx\n").unwrap();
        std::fs::write(dir.path().join("cmp-02"), "token-of-cmp-02-xxxxxxxx").unwrap();
        std::fs::write(dir.path().join(".hidden"), "x").unwrap();
        let tokens = AgentTokens::from_dir(dir.path()).unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.verify(&"cmp-01".into(), "token-of-cmp-01-xxxxxxxx"));
        assert!(!tokens.verify(&"cmp-01".into(), "token-of-cmp-02-xxxxxxxx"));
        assert!(!tokens.verify(&"cmp-03".into(), "token-of-cmp-01-xxxxxxxx"));
    }
}
