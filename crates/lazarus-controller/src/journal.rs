//! The write-ahead journal: the engine's [`Record`]s in the store's append-only
//! recovery log.
//!
//! Each record goes to the log of the recovery it belongs to, with the next sequence
//! number, and the engine's following commands wait until the store said it is durable.
//! A recovery's log is marked finished once its record reaches `closed` (the host is
//! back in service), so a restarted controller resumes every recovery still open,
//! including the return to service of a host whose instances were all recovered.
//!
//! Log ids: a host recovery is `<host>@<started-ms>` (the core's `RecoveryId`); a
//! process-failure disable is `process-disable:<host>@<ms>` (one log per episode).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lazarus_core::engine::Record;
use lazarus_core::workflow::Phase;
use lazarus_core::HostName;
use lazarus_store::{Store, StoreError};

/// How many times a failed append is tried before the controller gives up.
const APPEND_ATTEMPTS: u32 = 5;

/// Why the journal could not be read or written. Either way the controller stops: it
/// must not act on what it cannot record.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The store refused or failed, even after retries.
    #[error("the store could not record step {seq} of {recovery}: {source}")]
    Append {
        /// The log.
        recovery: String,
        /// The sequence number.
        seq: u64,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The store could not be read at start-up.
    #[error("cannot read unfinished recoveries from the store: {0}")]
    Load(#[source] StoreError),
    /// A stored record is not one this version understands.
    #[error("record {seq} of {recovery} is unreadable by this version: {message}")]
    Unreadable {
        /// The log.
        recovery: String,
        /// The sequence number.
        seq: u64,
        /// The parser's message.
        message: String,
    },
}

/// The ids of every recovery log this controller knows (for the native API).
pub type RecoveryIndex = Arc<Mutex<BTreeSet<String>>>;

/// Writes the engine's records, in order, each durable before the next command.
#[derive(Debug)]
pub struct Journal {
    store: Arc<dyn Store>,
    next_seq: HashMap<String, u64>,
    process_logs: HashMap<HostName, String>,
    index: RecoveryIndex,
}

impl Journal {
    /// Opens the journal and returns the latest record of every unfinished log, for
    /// [`lazarus_core::Engine::resume`].
    pub async fn open(
        store: Arc<dyn Store>,
        index: RecoveryIndex,
    ) -> Result<(Self, Vec<Record>), JournalError> {
        let logs = store
            .records_of_unfinished_recoveries()
            .await
            .map_err(JournalError::Load)?;
        let mut journal = Self {
            store,
            next_seq: HashMap::new(),
            process_logs: HashMap::new(),
            index,
        };
        let mut latest = Vec::new();
        for log in logs {
            let Some(last) = log.records.last() else {
                continue;
            };
            let record: Record = serde_json::from_value(last.body.clone()).map_err(|e| {
                JournalError::Unreadable {
                    recovery: log.recovery_id.clone(),
                    seq: last.seq,
                    message: e.to_string(),
                }
            })?;
            journal
                .next_seq
                .insert(log.recovery_id.clone(), last.seq.saturating_add(1));
            if let Record::ProcessDisable(p) = &record {
                journal
                    .process_logs
                    .insert(p.host.clone(), log.recovery_id.clone());
            }
            if let Ok(mut idx) = journal.index.lock() {
                idx.insert(log.recovery_id.clone());
            }
            latest.push(record);
        }
        Ok((journal, latest))
    }

    /// The log a record belongs to.
    fn log_id(&mut self, record: &Record) -> String {
        match record {
            Record::Recovery(r) => r.id.to_string(),
            Record::ProcessDisable(p) => self
                .process_logs
                .entry(p.host.clone())
                .or_insert_with(|| format!("process-disable:{}@{}", p.host, p.at.as_millis()))
                .clone(),
        }
    }

    /// Appends `record` durably (retrying transient failures), then marks its log
    /// finished if the record closes it. Returns the log id and whether this was the
    /// log's first record.
    pub async fn append(&mut self, record: &Record) -> Result<(String, bool), JournalError> {
        let id = self.log_id(record);
        let seq = self.next_seq.get(&id).copied().unwrap_or(0);
        let (kind, closes) = match record {
            Record::Recovery(r) => (
                format!("recovery.{}", phase_name(r.phase)),
                r.phase == Phase::Closed,
            ),
            Record::ProcessDisable(p) => ("process_disable".to_owned(), !p.disabled),
        };
        let body = serde_json::to_value(record).map_err(|e| JournalError::Unreadable {
            recovery: id.clone(),
            seq,
            message: e.to_string(),
        })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.store.append_record(&id, seq, &kind, &body).await {
                Ok(()) => break,
                Err(e) if attempt < APPEND_ATTEMPTS && !matches!(e, StoreError::Conflict(_)) => {
                    tracing::warn!(recovery = %id, seq, attempt, error = %e, "the store failed to record a step; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(source) => {
                    return Err(JournalError::Append {
                        recovery: id,
                        seq,
                        source,
                    })
                }
            }
        }
        self.next_seq.insert(id.clone(), seq.saturating_add(1));
        if let Ok(mut idx) = self.index.lock() {
            idx.insert(id.clone());
        }
        if closes {
            if let Err(e) = self.store.mark_finished(&id).await {
                // The record is durable; a log left open is resumed and closed again.
                tracing::warn!(recovery = %id, error = %e, "could not mark a closed recovery finished");
            }
            self.next_seq.remove(&id);
            if let Record::ProcessDisable(p) = record {
                self.process_logs.remove(&p.host);
            }
        }
        Ok((id, seq == 0))
    }
}

/// The snake_case name of a phase, as in the records and the API.
pub fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Fencing => "fencing",
        Phase::MarkingDown => "marking_down",
        Phase::Evacuating => "evacuating",
        Phase::Finished => "finished",
        Phase::Returning => "returning",
        Phase::Closed => "closed",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lazarus_core::model::FenceMethod;
    use lazarus_core::workflow::{
        FenceRecord, NovaMarks, RecoveryId, RecoveryRecord, Trigger, RECOVERY_RECORD_VERSION,
    };
    use lazarus_core::Timestamp;
    use lazarus_store::SqliteStore;

    use super::*;

    fn record(phase: Phase, at: u64) -> Record {
        Record::Recovery(RecoveryRecord {
            version: RECOVERY_RECORD_VERSION,
            id: RecoveryId {
                host: HostName::from("compute1"),
                started_at: Timestamp::from_millis(1_000),
            },
            segment: "s1".into(),
            trigger: Trigger::Operator {
                operator: "test".into(),
            },
            duplicate_reports: 0,
            phase,
            fence: FenceRecord {
                method: FenceMethod::Manual,
                attempts: 0,
                last_heartbeat: None,
                gave_up: false,
                confirmation: None,
            },
            nova: NovaMarks::default(),
            planned: false,
            instances: BTreeMap::new(),
            outcome: None,
            updated_at: Timestamp::from_millis(at),
        })
    }

    async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(dir.path().join("s.sqlite")).unwrap())
    }

    #[tokio::test]
    async fn a_restarted_journal_resumes_the_latest_step_and_numbers_on() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let (mut j, resumed) = Journal::open(Arc::clone(&s), RecoveryIndex::default())
            .await
            .unwrap();
        assert!(resumed.is_empty());
        let (id, first) = j.append(&record(Phase::Fencing, 1_000)).await.unwrap();
        assert_eq!(id, "compute1@1000");
        assert!(first);
        let (_, first) = j.append(&record(Phase::Evacuating, 2_000)).await.unwrap();
        assert!(!first);
        drop(j);

        let (mut j, resumed) = Journal::open(Arc::clone(&s), RecoveryIndex::default())
            .await
            .unwrap();
        assert_eq!(resumed, vec![record(Phase::Evacuating, 2_000)]);
        j.append(&record(Phase::Finished, 3_000)).await.unwrap();
        let log = s.recovery_log("compute1@1000").await.unwrap();
        let seqs: Vec<u64> = log.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2]);
        assert_eq!(log.records[2].kind, "recovery.finished");
        assert!(
            !log.finished,
            "finished instances still wait for the host's return"
        );
    }

    #[tokio::test]
    async fn a_closed_recovery_is_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let index = RecoveryIndex::default();
        let (mut j, _) = Journal::open(Arc::clone(&s), Arc::clone(&index))
            .await
            .unwrap();
        j.append(&record(Phase::Returning, 1_000)).await.unwrap();
        j.append(&record(Phase::Closed, 2_000)).await.unwrap();
        assert!(s.recovery_log("compute1@1000").await.unwrap().finished);
        assert!(index.lock().unwrap().contains("compute1@1000"));
        let (_, resumed) = Journal::open(s, RecoveryIndex::default()).await.unwrap();
        assert!(resumed.is_empty());
    }
}
