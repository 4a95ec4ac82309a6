//! Persistence of crossings and of the saga log; the only place the gateway writes SQL.

use std::{collections::HashMap, time::Duration};

use bordermesh_kit::{
    db::{Db, Tx},
    storage::{encode_record, now_millis},
    writes::{GroupCommit, GroupWriter, Statement},
};
use bordermesh_proto::crossing::v1::{Crossing, Outcome};

use crate::domain::audit::{self, Accessor, AuditEntry};

/// Reads go to the database directly; every write goes through one writer task (see [`Write`]).
#[derive(Clone)]
pub struct Store {
    db: Db,
    writer: GroupWriter<SagaLog>,
}

/// One change to the gateway's database. A single writer task commits everything queued in one
/// transaction (group commit): SQLite writes every page a commit touched to its log, and
/// PostgreSQL pays a flush per commit, while one commit for the changes of many crossings
/// costs about what one costs. A drive writes its changes of one moment
/// together, which then commit or fail together.
#[derive(Debug, Clone)]
pub enum Write {
    /// A new PENDING crossing, unless its request id is stored, with the intents of its first
    /// steps (which a crossing no longer PENDING does not gain); true when inserted.
    Accept {
        crossing: Box<Crossing>,
        first_steps: Vec<String>,
    },
    /// One audit entry per crossing, chained to the last entry.
    Audit {
        accessor: Accessor,
        action: String,
        crossing_ids: Vec<String>,
    },
    /// A step is about to call its agency (or tries once more).
    Intent { crossing_id: String, step: String },
    /// The agency's answer to a step.
    Done {
        crossing_id: String,
        step: String,
        response: String,
    },
    /// The travellers a crossing concerns, by key.
    Travellers {
        crossing_id: String,
        keys: Vec<String>,
    },
    /// A PENDING crossing moves on (decided or rejected); false when another driver of the same
    /// crossing got there first.
    Finish {
        crossing: Box<Crossing>,
        rejection: Option<String>,
    },
    /// Referred crossings were looked at by the second-line follow-up at `at`.
    FollowedUp { crossing_ids: Vec<String>, at: i64 },
    /// A decided crossing is replaced by its update, unless its record changed since it was
    /// read as `previous_record`; false when it did. With the update, the records it was made
    /// from are logged as answers of their `(step, record)`, replacing earlier readings.
    UpdateDecided {
        previous_record: String,
        updated: Box<Crossing>,
        records: Vec<(String, String)>,
    },
}

/// Tries of a caller's writes alone after its group failed: audit appends of two gateway
/// replicas may collide on the chain's next sequence number.
const ALONE_ATTEMPTS: u32 = 20;

fn status_name(crossing: &Crossing) -> &'static str {
    crossing.status().as_str_name()
}

fn outcome_name(crossing: &Crossing) -> &'static str {
    crossing
        .decision
        .as_ref()
        .map_or(Outcome::Unspecified, |d| d.outcome())
        .as_str_name()
}

const PENDING: &str = "CROSSING_STATUS_PENDING";
const STEP_INTENT: &str = "INTENT";
const STEP_DONE: &str = "DONE";
/// Read through the primary key (crossing_id, step).
const STEPS_OF_CROSSING: &str =
    "SELECT step, state, response FROM saga_steps WHERE crossing_id = $1";

/// Where a listing resumes: after this creation time and crossing id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub created_at: i64,
    pub crossing_id: String,
}

impl Store {
    /// A store over `db`, with its writer task; the task ends when the last clone is dropped.
    pub fn new(db: Db) -> Self {
        let writer = GroupWriter::with(db.clone(), SagaLog(db.clone()));
        Self { db, writer }
    }

    /// Commits `writes` together, in one transaction with whatever else is queued; answers, for
    /// each write, whether it changed what it was meant to change.
    pub async fn write(&self, writes: Vec<Write>) -> anyhow::Result<Vec<bool>> {
        self.writer.commit(writes).await
    }

    async fn write_one(&self, write: Write) -> anyhow::Result<bool> {
        Ok(self
            .write(vec![write])
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }

    /// The saved refusal of a rejected crossing.
    pub async fn rejection(&self, crossing_id: &str) -> anyhow::Result<Option<String>> {
        let row: Option<(Option<String>,)> = self
            .db
            .fetch_optional(
                &Statement::new("SELECT rejection FROM crossings WHERE crossing_id = $1")
                    .bind(crossing_id),
            )
            .await?;
        Ok(row.and_then(|(rejection,)| rejection))
    }

    pub async fn by_request_id(&self, request_id: &str) -> anyhow::Result<Option<Crossing>> {
        self.db
            .fetch_record(
                &Statement::new("SELECT record FROM crossings WHERE request_id = $1")
                    .bind(request_id),
            )
            .await
    }

    pub async fn by_id(&self, crossing_id: &str) -> anyhow::Result<Option<Crossing>> {
        self.db
            .fetch_record(
                &Statement::new("SELECT record FROM crossings WHERE crossing_id = $1")
                    .bind(crossing_id),
            )
            .await
    }

    /// Crossings still PENDING whose last change is older than `idle_ms`, oldest first.
    pub async fn pending(&self, idle_ms: i64, limit: i64) -> anyhow::Result<Vec<Crossing>> {
        let rows: Vec<(String,)> = self
            .db
            .fetch_all(
                &Statement::new(
                    "SELECT record FROM crossings WHERE status = $1 AND updated_at <= $2 ORDER BY updated_at LIMIT $3",
                )
                .bind(PENDING)
                .bind(now_millis() - idle_ms)
                .bind(limit),
            )
            .await?;
        decode_crossings(&rows)
    }

    /// Referred crossings, the longest unexamined first, marked as examined now; each with its
    /// record as stored, which an update must find unchanged.
    pub async fn referred_for_follow_up(
        &self,
        limit: i64,
    ) -> anyhow::Result<Vec<(Crossing, String)>> {
        let rows: Vec<(String, String)> = self
            .db
            .fetch_all(
                &Statement::new(
                    "SELECT crossing_id, record FROM crossings WHERE outcome = $1 ORDER BY followed_at LIMIT $2",
                )
                .bind(Outcome::Referred.as_str_name())
                .bind(limit),
            )
            .await?;
        let mut crossing_ids = Vec::with_capacity(rows.len());
        let mut crossings = Vec::with_capacity(rows.len());
        for (crossing_id, record) in rows {
            crossing_ids.push(crossing_id);
            crossings.push((bordermesh_kit::storage::decode_record(&record)?, record));
        }
        if !crossing_ids.is_empty() {
            self.write_one(Write::FollowedUp {
                crossing_ids,
                at: now_millis(),
            })
            .await?;
        }
        Ok(crossings)
    }

    /// A page of a crossing point's crossings created in `[start_ms, end_ms)`, after `after`.
    pub async fn list(
        &self,
        crossing_point: &str,
        start_ms: i64,
        end_ms: i64,
        after: Option<&ListPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<(ListPosition, Crossing)>> {
        let (after_time, after_id) =
            after.map_or((i64::MIN, ""), |p| (p.created_at, p.crossing_id.as_str()));
        let rows: Vec<(i64, String, String)> = self
            .db
            .fetch_all(
                &Statement::new(
                    "SELECT created_at, crossing_id, record FROM crossings \
                     WHERE crossing_point = $1 AND created_at >= $2 AND created_at < $3 \
                     AND (created_at > $4 OR (created_at = $4 AND crossing_id > $5)) \
                     ORDER BY created_at, crossing_id LIMIT $6",
                )
                .bind(crossing_point)
                .bind(start_ms)
                .bind(end_ms)
                .bind(after_time)
                .bind(after_id)
                .bind(limit),
            )
            .await?;
        rows.into_iter()
            .map(|(created_at, crossing_id, record)| {
                let crossing = bordermesh_kit::storage::decode_record(&record)?;
                Ok((
                    ListPosition {
                        created_at,
                        crossing_id,
                    },
                    crossing,
                ))
            })
            .collect()
    }

    /// Every answer the saga log holds for a crossing, by step.
    pub async fn step_responses(
        &self,
        crossing_id: &str,
    ) -> anyhow::Result<HashMap<String, String>> {
        Ok(self
            .steps_of(crossing_id)
            .await?
            .into_iter()
            .filter(|(_, state, _)| state == STEP_DONE)
            .filter_map(|(step, _, response)| Some((step, response?)))
            .collect())
    }

    /// Steps of a crossing whose name starts with `prefix` that have an intent and no answer.
    pub async fn open_steps(&self, crossing_id: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .steps_of(crossing_id)
            .await?
            .into_iter()
            .filter(|(step, state, _)| state == STEP_INTENT && step.starts_with(prefix))
            .map(|(step, _, _)| step)
            .collect())
    }

    /// A crossing's steps (a dozen at most), filtered by the callers: asked for by crossing and
    /// state together, SQLite's planner took the index on state and read every step of every
    /// crossing in that state, which grows with each crossing.
    async fn steps_of(
        &self,
        crossing_id: &str,
    ) -> anyhow::Result<Vec<(String, String, Option<String>)>> {
        self.db
            .fetch_all(&Statement::new(STEPS_OF_CROSSING).bind(crossing_id))
            .await
    }

    /// Crossings with a step named with `prefix` left open for longer than `idle_ms`.
    pub async fn with_open_steps(
        &self,
        prefix: &str,
        idle_ms: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<Crossing>> {
        let rows: Vec<(String,)> = self
            .db
            .fetch_all(
                &Statement::new(
                    "SELECT record FROM crossings WHERE crossing_id IN (SELECT crossing_id FROM saga_steps \
                     WHERE state = $1 AND step LIKE $2 AND updated_at <= $3) LIMIT $4",
                )
                .bind(STEP_INTENT)
                .bind(format!("{prefix}%"))
                .bind(now_millis() - idle_ms)
                .bind(limit),
            )
            .await?;
        decode_crossings(&rows)
    }

    /// Appends one audit entry per crossing, chained to the last entry.
    pub async fn append_audit(
        &self,
        accessor: &Accessor,
        action: &str,
        crossing_ids: &[String],
    ) -> anyhow::Result<()> {
        self.write_one(Write::Audit {
            accessor: accessor.clone(),
            action: action.into(),
            crossing_ids: crossing_ids.to_vec(),
        })
        .await?;
        Ok(())
    }

    const AUDIT_COLUMNS: &'static str = "a.sequence, a.at, a.agency, a.officer, a.purpose, a.action, a.crossing_id, a.previous_hash, a.hash";

    /// The whole trail, in sequence order.
    pub async fn audit_entries(&self) -> anyhow::Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = self
            .db
            .fetch_all(&Statement::new(format!(
                "SELECT {} FROM audit_log a ORDER BY a.sequence",
                Self::AUDIT_COLUMNS
            )))
            .await?;
        Ok(rows.into_iter().map(audit_entry).collect())
    }

    /// Every access to the crossings of the traveller with this key.
    pub async fn accesses_for_traveller(&self, key: &str) -> anyhow::Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = self
            .db
            .fetch_all(
                &Statement::new(format!(
                    "SELECT {} FROM audit_log a JOIN crossing_travellers t ON a.crossing_id = t.crossing_id \
                     WHERE t.traveller_key = $1 ORDER BY a.sequence",
                    Self::AUDIT_COLUMNS
                ))
                .bind(key),
            )
            .await?;
        Ok(rows.into_iter().map(audit_entry).collect())
    }

    pub async fn count(&self) -> anyhow::Result<i64> {
        let (count,): (i64,) = self
            .db
            .fetch_one(&Statement::new("SELECT COUNT(*) FROM crossings"))
            .await?;
        Ok(count)
    }
}

fn decode_crossings(rows: &[(String,)]) -> anyhow::Result<Vec<Crossing>> {
    rows.iter()
        .map(|(record,)| bordermesh_kit::storage::decode_record(record))
        .collect()
}

/// The saga log's writes: a group's in one transaction, and a caller's alone tried again after
/// a collision.
struct SagaLog(Db);

impl GroupCommit for SagaLog {
    type Writes = Vec<Write>;
    type Outcome = Vec<bool>;
    const GROUP_LIMIT: usize = 128;

    async fn together(&self, group: &[&Vec<Write>]) -> anyhow::Result<Vec<Vec<bool>>> {
        let callers: Vec<&[Write]> = group.iter().map(|writes| writes.as_slice()).collect();
        commit(&self.0, &callers).await
    }

    async fn alone(&self, writes: &Vec<Write>) -> anyhow::Result<Vec<bool>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match commit(&self.0, &[writes]).await {
                Ok(mut outcomes) => return Ok(outcomes.pop().unwrap_or_default()),
                Err(error) if attempt < ALONE_ATTEMPTS => {
                    tracing::debug!(%error, attempt, "write collided; retrying");
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt))).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Every caller's writes in one transaction; their outcomes, caller by caller.
async fn commit(db: &Db, callers: &[&[Write]]) -> anyhow::Result<Vec<Vec<bool>>> {
    let mut tx = db.begin().await?;
    let now = now_millis();
    let appends = callers
        .iter()
        .flat_map(|writes| writes.iter())
        .any(|write| matches!(write, Write::Audit { .. }));
    let mut audit_head = if appends {
        Some(read_audit_head(&mut tx).await?)
    } else {
        None
    };
    let mut statements = Vec::new();
    let deciding: Vec<Vec<Option<usize>>> = callers
        .iter()
        .map(|writes| {
            writes
                .iter()
                .map(|write| {
                    let (own, decides) = statements_of(write, now, &mut audit_head);
                    let at = statements.len();
                    statements.extend(own);
                    decides.map(|index| at + index)
                })
                .collect()
        })
        .collect();
    let changed = tx.execute_all(&statements).await?;
    tx.commit().await?;
    Ok(deciding
        .into_iter()
        .map(|caller| {
            caller
                .into_iter()
                .map(|decides| decides.is_none_or(|index| changed.get(index) == Some(&1)))
                .collect()
        })
        .collect())
}

/// The sequence number and hash of the trail's last entry, as read inside the transaction.
async fn read_audit_head(tx: &mut Tx) -> anyhow::Result<(i64, String)> {
    let head: Option<(i64, String)> = tx
        .fetch_optional(&Statement::new(
            "SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1",
        ))
        .await?;
    Ok(head.unwrap_or((0, audit::GENESIS.to_owned())))
}

/// The statements of one write, and which of them, having changed one row, says the write
/// changed what it was meant to (`None`: it always does). Audit entries chain on to
/// `audit_head`, which is read once per transaction and moved on here.
fn statements_of(
    write: &Write,
    now: i64,
    audit_head: &mut Option<(i64, String)>,
) -> (Vec<Statement>, Option<usize>) {
    match write {
        Write::Accept {
            crossing,
            first_steps,
        } => {
            let submission = crossing.submission.as_ref();
            let point = submission
                .and_then(|s| s.crossing_point.as_ref())
                .map_or("", |p| p.code.as_str());
            let direction = submission.map_or(Default::default(), |s| s.direction());
            let insert = Statement::new(
                "INSERT INTO crossings (crossing_id, request_id, crossing_point, direction, status, outcome, created_at, updated_at, record) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (request_id) DO NOTHING",
            )
            .bind(&crossing.crossing_id)
            .bind(&crossing.request_id)
            .bind(point)
            .bind(direction.as_str_name())
            .bind(status_name(crossing))
            .bind(outcome_name(crossing))
            .bind(now)
            .bind(now)
            .bind(encode_record(crossing.as_ref()));
            let intents = first_steps.iter().map(|step| {
                Statement::new(
                    "INSERT INTO saga_steps (crossing_id, step, state, response, attempts, updated_at) \
                     SELECT $1, $2, $3, NULL, 1, $4 \
                     WHERE EXISTS (SELECT 1 FROM crossings WHERE crossing_id = $1 AND status = $5) \
                     ON CONFLICT (crossing_id, step) DO UPDATE SET attempts = saga_steps.attempts + 1, updated_at = $4",
                )
                .bind(&crossing.crossing_id)
                .bind(step)
                .bind(STEP_INTENT)
                .bind(now)
                .bind(PENDING)
            });
            (std::iter::once(insert).chain(intents).collect(), Some(0))
        }
        Write::Audit {
            accessor,
            action,
            crossing_ids,
        } => {
            let (sequence, previous_hash) =
                audit_head.get_or_insert_with(|| (0, audit::GENESIS.to_owned()));
            let entries = crossing_ids
                .iter()
                .map(|crossing_id| {
                    *sequence += 1;
                    let hash = audit::entry_hash(
                        previous_hash,
                        *sequence,
                        now,
                        accessor,
                        action,
                        crossing_id,
                    );
                    let entry = Statement::new(
                        "INSERT INTO audit_log (sequence, at, agency, officer, purpose, action, crossing_id, previous_hash, hash) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(*sequence)
                    .bind(now)
                    .bind(&accessor.agency)
                    .bind(&accessor.officer)
                    .bind(&accessor.purpose)
                    .bind(action)
                    .bind(crossing_id)
                    .bind(previous_hash.as_str())
                    .bind(hash.as_str());
                    *previous_hash = hash;
                    entry
                })
                .collect();
            (entries, None)
        }
        Write::Intent { crossing_id, step } => (
            vec![
                Statement::new(
                    "INSERT INTO saga_steps (crossing_id, step, state, response, attempts, updated_at) \
                     VALUES ($1, $2, $3, NULL, 1, $4) \
                     ON CONFLICT (crossing_id, step) DO UPDATE SET attempts = saga_steps.attempts + 1, updated_at = $4",
                )
                .bind(crossing_id)
                .bind(step)
                .bind(STEP_INTENT)
                .bind(now),
            ],
            Some(0),
        ),
        Write::Done {
            crossing_id,
            step,
            response,
        } => (
            vec![
                Statement::new(
                    "UPDATE saga_steps SET state = $1, response = $2, updated_at = $3 WHERE crossing_id = $4 AND step = $5",
                )
                .bind(STEP_DONE)
                .bind(response)
                .bind(now)
                .bind(crossing_id)
                .bind(step),
            ],
            Some(0),
        ),
        Write::Travellers { crossing_id, keys } => (
            keys.iter()
                .map(|key| {
                    Statement::new(
                        "INSERT INTO crossing_travellers (crossing_id, traveller_key) VALUES ($1, $2) \
                         ON CONFLICT (crossing_id, traveller_key) DO NOTHING",
                    )
                    .bind(crossing_id)
                    .bind(key)
                })
                .collect(),
            None,
        ),
        Write::Finish {
            crossing,
            rejection,
        } => (
            vec![
                Statement::new(
                    "UPDATE crossings SET status = $1, outcome = $2, updated_at = $3, record = $4, rejection = $5 \
                     WHERE crossing_id = $6 AND status = $7",
                )
                .bind(status_name(crossing))
                .bind(outcome_name(crossing))
                .bind(now)
                .bind(encode_record(crossing.as_ref()))
                .bind(rejection.as_deref())
                .bind(&crossing.crossing_id)
                .bind(PENDING),
            ],
            Some(0),
        ),
        Write::FollowedUp { crossing_ids, at } => (
            crossing_ids
                .iter()
                .map(|crossing_id| {
                    Statement::new("UPDATE crossings SET followed_at = $1 WHERE crossing_id = $2")
                        .bind(*at)
                        .bind(crossing_id)
                })
                .collect(),
            None,
        ),
        Write::UpdateDecided {
            previous_record,
            updated,
            records,
        } => {
            let record = encode_record(updated.as_ref());
            let update = Statement::new(
                "UPDATE crossings SET outcome = $1, updated_at = $2, record = $3 WHERE crossing_id = $4 AND record = $5",
            )
            .bind(outcome_name(updated))
            .bind(now)
            .bind(&record)
            .bind(&updated.crossing_id)
            .bind(previous_record);
            // The records are logged only where the update took: the crossing now holds it.
            let logged = records.iter().map(|(step, response)| {
                Statement::new(
                    "INSERT INTO saga_steps (crossing_id, step, state, response, attempts, updated_at) \
                     SELECT $1, $2, $3, $4, 1, $5 \
                     WHERE EXISTS (SELECT 1 FROM crossings WHERE crossing_id = $1 AND record = $6) \
                     ON CONFLICT (crossing_id, step) DO UPDATE SET state = $3, response = $4, updated_at = $5",
                )
                .bind(&updated.crossing_id)
                .bind(step)
                .bind(STEP_DONE)
                .bind(response)
                .bind(now)
                .bind(&record)
            });
            (std::iter::once(update).chain(logged).collect(), Some(0))
        }
    }
}

type AuditRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn audit_entry(row: AuditRow) -> AuditEntry {
    let (sequence, at, agency, officer, purpose, action, crossing_id, previous_hash, hash) = row;
    AuditEntry {
        sequence,
        at,
        accessor: Accessor {
            agency,
            officer,
            purpose,
        },
        action,
        crossing_id,
        previous_hash,
        hash,
    }
}

/// Single writes with their readings, as the store tests take them.
#[cfg(test)]
impl Store {
    /// Stores a new PENDING crossing unless one with its request id exists, with the intents of
    /// `first_steps`; answers the stored one, so that concurrent copies of a request all
    /// continue with the same crossing.
    pub async fn accept(
        &self,
        crossing: &Crossing,
        first_steps: &[&str],
    ) -> anyhow::Result<Crossing> {
        self.write_one(Write::Accept {
            crossing: Box::new(crossing.clone()),
            first_steps: first_steps.iter().map(|step| (*step).to_owned()).collect(),
        })
        .await?;
        self.by_request_id(&crossing.request_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("crossing vanished after insert"))
    }

    /// Moves a PENDING crossing to its next state (decided or rejected); false when another
    /// driver of the same crossing got there first.
    pub async fn finish(
        &self,
        crossing: &Crossing,
        rejection: Option<&str>,
    ) -> anyhow::Result<bool> {
        self.write_one(Write::Finish {
            crossing: Box::new(crossing.clone()),
            rejection: rejection.map(str::to_owned),
        })
        .await
    }

    /// The agency's saved answer to a step that completed.
    pub async fn step_response(
        &self,
        crossing_id: &str,
        step: &str,
    ) -> anyhow::Result<Option<String>> {
        let row: Option<(Option<String>,)> = self
            .db
            .fetch_optional(
                &Statement::new(
                    "SELECT response FROM saga_steps WHERE crossing_id = $1 AND step = $2 AND state = $3",
                )
                .bind(crossing_id)
                .bind(step)
                .bind(STEP_DONE),
            )
            .await?;
        Ok(row.and_then(|(response,)| response))
    }

    /// Writes that a step is about to call its agency (or is tried once more).
    pub async fn step_intent(&self, crossing_id: &str, step: &str) -> anyhow::Result<()> {
        self.write_one(Write::Intent {
            crossing_id: crossing_id.into(),
            step: step.into(),
        })
        .await?;
        Ok(())
    }

    /// Writes the agency's answer to a step.
    pub async fn step_done(
        &self,
        crossing_id: &str,
        step: &str,
        response: &str,
    ) -> anyhow::Result<()> {
        self.write_one(Write::Done {
            crossing_id: crossing_id.into(),
            step: step.into(),
            response: response.into(),
        })
        .await?;
        Ok(())
    }

    /// Remembers which travellers a crossing concerns.
    pub async fn record_travellers(
        &self,
        crossing_id: &str,
        keys: &[String],
    ) -> anyhow::Result<()> {
        self.write_one(Write::Travellers {
            crossing_id: crossing_id.into(),
            keys: keys.to_vec(),
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::storage::{Checkpoints, testing};

    use bordermesh_proto::crossing::v1::CrossingStatus;

    use super::*;

    fn pending(request_id: &str) -> Crossing {
        Crossing {
            crossing_id: uuid::Uuid::new_v4().to_string(),
            request_id: request_id.into(),
            status: CrossingStatus::Pending.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_request_id_stores_one_crossing_that_finishes_once_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(
                Db::connect(&database.url, &crate::MIGRATIONS, Checkpoints::Periodic)
                    .await
                    .unwrap(),
            );
            let first = pending("r-1");
            let second = pending("r-1");
            assert_eq!(store.accept(&first, &[]).await.unwrap(), first);
            assert_eq!(
                store.accept(&second, &[]).await.unwrap(),
                first,
                "{:?}",
                database.backend
            );
            assert_eq!(store.count().await.unwrap(), 1);
            assert_eq!(
                store.pending(0, 10).await.unwrap(),
                std::slice::from_ref(&first)
            );

            let decided = Crossing {
                status: CrossingStatus::Decided.into(),
                ..first.clone()
            };
            assert!(store.finish(&decided, None).await.unwrap());
            assert!(
                !store.finish(&decided, None).await.unwrap(),
                "finishes once"
            );
            assert_eq!(
                store.by_id(&first.crossing_id).await.unwrap(),
                Some(decided)
            );
            assert!(store.pending(0, 10).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn a_repeated_acceptance_opens_no_step_of_a_crossing_that_moved_on_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(
                Db::connect(&database.url, &crate::MIGRATIONS, Checkpoints::Periodic)
                    .await
                    .unwrap(),
            );
            let first = pending("r-1");
            store.accept(&first, &["identity/0"]).await.unwrap();
            let id = first.crossing_id.as_str();
            assert_eq!(
                store.open_steps(id, "").await.unwrap(),
                ["identity/0"],
                "{:?}",
                database.backend
            );
            store.step_done(id, "identity/0", "answer").await.unwrap();
            let decided = Crossing {
                status: CrossingStatus::Decided.into(),
                ..first.clone()
            };
            assert!(store.finish(&decided, None).await.unwrap());

            // The gateway names a crossing after its request id: a repeat has the same id.
            assert_eq!(
                store
                    .accept(&first, &["identity/0", "customs"])
                    .await
                    .unwrap(),
                decided
            );
            assert!(store.open_steps(id, "").await.unwrap().is_empty());
            assert_eq!(
                store.step_responses(id).await.unwrap(),
                HashMap::from([("identity/0".to_owned(), "answer".to_owned())])
            );
        }
    }

    #[tokio::test]
    async fn a_step_remembers_its_answer_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(
                Db::connect(&database.url, &crate::MIGRATIONS, Checkpoints::Periodic)
                    .await
                    .unwrap(),
            );
            store.step_intent("c-1", "customs").await.unwrap();
            assert_eq!(store.step_response("c-1", "customs").await.unwrap(), None);
            store.step_intent("c-1", "customs").await.unwrap();
            store.step_done("c-1", "customs", "answer").await.unwrap();
            assert_eq!(
                store
                    .step_response("c-1", "customs")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("answer"),
                "{:?}",
                database.backend
            );
        }
    }

    #[tokio::test]
    async fn a_crossings_answers_and_open_steps_are_its_own_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(
                Db::connect(&database.url, &crate::MIGRATIONS, Checkpoints::Periodic)
                    .await
                    .unwrap(),
            );
            for crossing in ["c-1", "c-2"] {
                store.step_intent(crossing, "customs").await.unwrap();
                store
                    .step_done(crossing, "customs", crossing)
                    .await
                    .unwrap();
                store
                    .step_intent(crossing, "compensate/customs")
                    .await
                    .unwrap();
                store.step_intent(crossing, "sanitary").await.unwrap();
            }
            let answers = store.step_responses("c-1").await.unwrap();
            assert_eq!(
                answers,
                HashMap::from([("customs".to_owned(), "c-1".to_owned())]),
                "{:?}",
                database.backend
            );
            assert_eq!(
                store.open_steps("c-2", "compensate/").await.unwrap(),
                ["compensate/customs"]
            );
            if database.backend == bordermesh_kit::storage::Backend::Sqlite {
                // The log grows with every crossing: reading one crossing's steps must seek the
                // primary key, not walk the index of every step in a state.
                let plan: Vec<(i64, i64, i64, String)> = store
                    .db
                    .fetch_all(
                        &Statement::new(format!("EXPLAIN QUERY PLAN {STEPS_OF_CROSSING}"))
                            .bind("c-1"),
                    )
                    .await
                    .unwrap();
                assert!(
                    plan.iter()
                        .all(|(.., detail)| detail.contains("sqlite_autoindex_saga_steps_1")),
                    "{plan:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn listing_pages_by_creation_time_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(
                Db::connect(&database.url, &crate::MIGRATIONS, Checkpoints::Periodic)
                    .await
                    .unwrap(),
            );
            for index in 0..5 {
                let mut crossing = pending(&format!("r-{index}"));
                crossing.submission = Some(bordermesh_proto::crossing::v1::CrossingSubmission {
                    crossing_point: Some(bordermesh_proto::common::v1::CrossingPoint {
                        code: "SI-OBREZJE".into(),
                        country: "SVN".into(),
                    }),
                    ..Default::default()
                });
                store.accept(&crossing, &[]).await.unwrap();
            }
            let first = store
                .list("SI-OBREZJE", 0, i64::MAX, None, 3)
                .await
                .unwrap();
            assert_eq!(first.len(), 3);
            let rest = store
                .list("SI-OBREZJE", 0, i64::MAX, Some(&first[2].0), 3)
                .await
                .unwrap();
            assert_eq!(rest.len(), 2, "{:?}", database.backend);
            assert!(
                store
                    .list("HR-BAJAKOVO", 0, i64::MAX, None, 3)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    }
}

#[cfg(test)]
mod audit_tests {
    use bordermesh_kit::storage::{Checkpoints, testing};

    use super::*;

    #[tokio::test]
    async fn concurrent_appends_make_one_unbroken_chain_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(
                Db::connect(&database.url, &crate::MIGRATIONS, Checkpoints::Periodic)
                    .await
                    .unwrap(),
            );
            let accessor = Accessor {
                agency: "customs".into(),
                officer: "officer-1".into(),
                purpose: "test".into(),
            };
            let appends = (0..8).map(|i| {
                let store = store.clone();
                let accessor = accessor.clone();
                async move {
                    store
                        .append_audit(
                            &accessor,
                            "GetCrossing",
                            &[format!("c-{i}"), format!("d-{i}")],
                        )
                        .await
                }
            });
            for appended in futures::future::join_all(appends).await {
                appended.unwrap();
            }
            let entries = store.audit_entries().await.unwrap();
            assert_eq!(entries.len(), 16, "{:?}", database.backend);
            assert!(audit::verify(&entries).is_empty());

            store
                .record_travellers("c-3", &["key".into()])
                .await
                .unwrap();
            let accesses = store.accesses_for_traveller("key").await.unwrap();
            assert_eq!(accesses.len(), 1);
            assert_eq!(accesses[0].crossing_id, "c-3");
        }
    }
}
