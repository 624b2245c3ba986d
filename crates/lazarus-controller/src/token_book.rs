//! The agents' tokens as the controller knows them now: read from `[agents] token_dir`
//! at start and re-read while it runs, so that a compute host added to the cloud (its
//! token file dropped in the directory) or a rotated token is taken without restarting
//! the controller, and a removed file stops being accepted.
//!
//! A re-read happens every `[agents] token_reread_interval` and, sooner, after a
//! heartbeat was refused (an agent that was just provisioned is refused once, and
//! accepted a heartbeat later); never more often than once per
//! [`MIN_REREAD_GAP`], so that a stream of bogus heartbeats cannot keep the controller
//! reading the directory. A directory that cannot be read, or holds a file that is
//! not a usable token (one being written, say), changes nothing: the tokens already
//! known stay, with a warning. Tokens are never logged, only host names.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use lazarus_agent::{AgentTokens, TokenError};
use lazarus_core::HostName;
use tokio::sync::{watch, Notify};

use crate::agents::AgentCommands;

/// The shortest time between two re-reads of the token directory.
pub const MIN_REREAD_GAP: Duration = Duration::from_secs(2);

/// What a re-read changed, by host name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TokenChanges {
    /// Hosts that had no token before.
    pub added: Vec<HostName>,
    /// Hosts whose token changed.
    pub replaced: Vec<HostName>,
    /// Hosts whose token file is gone.
    pub removed: Vec<HostName>,
}

impl TokenChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.replaced.is_empty() && self.removed.is_empty()
    }
}

/// The current tokens, and the directory they come from.
#[derive(Debug)]
pub struct TokenBook {
    dir: Option<PathBuf>,
    tokens: RwLock<AgentTokens>,
    commands: Arc<AgentCommands>,
    reread_wanted: Notify,
}

impl TokenBook {
    /// The tokens read at start, from `dir` (`None`: no agents, nothing to re-read).
    /// `commands` learns which hosts have an agent at every change.
    pub fn new(dir: Option<PathBuf>, tokens: AgentTokens, commands: Arc<AgentCommands>) -> Self {
        commands.set_agents(tokens.hosts().cloned());
        Self {
            dir,
            tokens: RwLock::new(tokens),
            commands,
            reread_wanted: Notify::new(),
        }
    }

    /// Whether `presented` is `host`'s token; a refusal asks for an early re-read.
    pub fn verify(&self, host: &HostName, presented: &str) -> bool {
        let ok = self
            .tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .verify(host, presented);
        if !ok && self.dir.is_some() {
            self.reread_wanted.notify_one();
        }
        ok
    }

    /// Hosts with a token now.
    pub fn hosts(&self) -> BTreeSet<HostName> {
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .hosts()
            .cloned()
            .collect()
    }

    /// Reads the directory again and takes what it holds; on an error nothing changes.
    pub fn reread(&self) -> Result<TokenChanges, TokenError> {
        let Some(dir) = &self.dir else {
            return Ok(TokenChanges::default());
        };
        let fresh = AgentTokens::from_dir(dir)?;
        let mut tokens = self.tokens.write().unwrap_or_else(|e| e.into_inner());
        let mut changes = TokenChanges::default();
        for host in fresh.hosts() {
            match (tokens.get(host), fresh.get(host)) {
                (None, _) => changes.added.push(host.clone()),
                (Some(old), Some(new)) if old != new => changes.replaced.push(host.clone()),
                _ => {}
            }
        }
        changes.removed = tokens
            .hosts()
            .filter(|h| fresh.get(h).is_none())
            .cloned()
            .collect();
        for list in [
            &mut changes.added,
            &mut changes.replaced,
            &mut changes.removed,
        ] {
            list.sort();
        }
        if !changes.is_empty() {
            self.commands.set_agents(fresh.hosts().cloned());
            *tokens = fresh;
        }
        Ok(changes)
    }

    /// Re-reads every `period`, and after a refusal (at most once per
    /// [`MIN_REREAD_GAP`]), until `stop` turns true.
    pub async fn run(self: Arc<Self>, period: Duration, mut stop: watch::Receiver<bool>) {
        if self.dir.is_none() {
            return;
        }
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(period) => {}
                () = self.reread_wanted.notified() => {}
            }
            let book = Arc::clone(&self);
            match tokio::task::spawn_blocking(move || book.reread()).await {
                Ok(Ok(changes)) if !changes.is_empty() => {
                    for host in &changes.removed {
                        tracing::warn!(%host, "agent token removed: this host's heartbeats are refused from now on");
                    }
                    tracing::info!(
                        added = ?changes.added,
                        replaced = ?changes.replaced,
                        removed = ?changes.removed,
                        "agent tokens re-read"
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "agent tokens not re-read: the ones already known stay")
                }
                Err(e) => tracing::warn!(error = %e, "agent token re-read failed"),
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(MIN_REREAD_GAP) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lazarus_agent::AgentToken;

    const A: &str = "token-of-host-a-0001";
    const A2: &str = "token-of-host-a-0002";
    const B: &str = "token-of-host-b-0001";

    fn write(dir: &tempfile::TempDir, host: &str, token: &str) {
        std::fs::write(dir.path().join(host), format!("{token}\n")).unwrap();
    }

    fn book(dir: &tempfile::TempDir) -> (TokenBook, Arc<AgentCommands>) {
        let commands = Arc::new(AgentCommands::new([]));
        let tokens = AgentTokens::from_dir(dir.path()).unwrap();
        let book = TokenBook::new(Some(dir.path().to_owned()), tokens, Arc::clone(&commands));
        (book, commands)
    }

    fn h(name: &str) -> HostName {
        HostName::from(name)
    }

    #[test]
    fn a_token_added_rotated_or_removed_while_running_takes_effect_at_the_next_reread() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "a", A);
        let (book, commands) = book(&dir);
        assert!(book.verify(&h("a"), A));
        assert!(commands.has_agent(&h("a")));

        write(&dir, "b", B);
        write(&dir, "a", A2);
        assert!(!book.verify(&h("b"), B), "not before the re-read");
        let changes = book.reread().unwrap();
        assert_eq!(changes.added, vec![h("b")]);
        assert_eq!(changes.replaced, vec![h("a")]);
        assert!(changes.removed.is_empty());
        assert!(book.verify(&h("b"), B));
        assert!(book.verify(&h("a"), A2));
        assert!(!book.verify(&h("a"), A), "the rotated-out token");
        assert!(commands.has_agent(&h("b")));

        std::fs::remove_file(dir.path().join("b")).unwrap();
        let changes = book.reread().unwrap();
        assert_eq!(changes.removed, vec![h("b")]);
        assert!(!book.verify(&h("b"), B));
        assert!(!commands.has_agent(&h("b")));
        assert!(book.reread().unwrap().is_empty(), "nothing changed since");
    }

    #[test]
    fn an_unusable_file_or_a_vanished_directory_keeps_the_tokens_already_known() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "a", A);
        let (book, _) = book(&dir);
        write(&dir, "b", "short");
        assert!(matches!(book.reread(), Err(TokenError::Invalid { .. })));
        assert!(book.verify(&h("a"), A));
        assert!(!book.verify(&h("b"), "short"));

        let path = dir.path().to_owned();
        drop(dir);
        assert!(matches!(book.reread(), Err(TokenError::Read { .. })));
        assert!(book.verify(&h("a"), A), "kept: {path:?} is gone");
    }

    #[test]
    fn without_a_directory_nothing_is_reread_and_only_the_given_tokens_count() {
        let mut tokens = AgentTokens::new();
        tokens.insert(h("a"), AgentToken::new(A).unwrap());
        let book = TokenBook::new(None, tokens, Arc::new(AgentCommands::new([])));
        assert!(book.reread().unwrap().is_empty());
        assert!(book.verify(&h("a"), A));
        assert_eq!(book.hosts(), BTreeSet::from([h("a")]));
    }

    #[tokio::test]
    async fn a_refused_heartbeat_gets_the_directory_reread_before_the_period() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "a", A);
        let (book, _) = book(&dir);
        let book = Arc::new(book);
        let (stop_tx, stop_rx) = watch::channel(false);
        // A period no test run reaches: only the refusal can cause the re-read.
        let task = tokio::spawn(Arc::clone(&book).run(Duration::from_secs(3600), stop_rx));
        write(&dir, "b", B);
        assert!(!book.verify(&h("b"), B));
        let mut accepted = false;
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if book.verify(&h("b"), B) {
                accepted = true;
                break;
            }
        }
        assert!(accepted, "b's token was never taken");
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }
}
