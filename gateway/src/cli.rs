//! `bordermesh cross`: submits a crossing written as proto3 JSON and prints the decision.

use std::path::Path;

use anyhow::Context;
use bordermesh_kit::{db::Db, storage::Checkpoints};
use bordermesh_proto::{
    FILE_DESCRIPTOR_SET,
    crossing::v1::{
        Crossing, Outcome, ProcessCrossingRequest, crossing_service_client::CrossingServiceClient,
    },
};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic_types::StatusExt;

const REQUEST_TYPE: &str = "bordermesh.crossing.v1.ProcessCrossingRequest";
const CROSSING_TYPE: &str = "bordermesh.crossing.v1.Crossing";

fn pool() -> anyhow::Result<DescriptorPool> {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).context("decoding the embedded descriptors")
}

/// Reads a `ProcessCrossingRequest` from its proto3 JSON form.
pub fn read_request(json: &str) -> anyhow::Result<ProcessCrossingRequest> {
    let pool = pool()?;
    let descriptor = pool
        .get_message_by_name(REQUEST_TYPE)
        .context("request type missing from descriptors")?;
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let dynamic = DynamicMessage::deserialize(descriptor, &mut deserializer)?;
    deserializer.end()?;
    Ok(ProcessCrossingRequest::decode(
        dynamic.encode_to_vec().as_slice(),
    )?)
}

/// Writes a crossing as proto3 JSON.
pub fn crossing_json(crossing: &Crossing) -> anyhow::Result<String> {
    let pool = pool()?;
    let descriptor = pool
        .get_message_by_name(CROSSING_TYPE)
        .context("crossing type missing from descriptors")?;
    let dynamic = DynamicMessage::decode(descriptor, crossing.encode_to_vec().as_slice())?;
    Ok(serde_json::to_string_pretty(&dynamic)?)
}

/// A summary an officer reads: outcome, explanation, then each agency's findings.
pub fn summary(crossing: &Crossing) -> String {
    let decision = crossing.decision.clone().unwrap_or_default();
    let outcome = Outcome::try_from(decision.outcome).unwrap_or_default();
    let mut lines = vec![
        format!(
            "crossing {}: {}",
            crossing.crossing_id,
            outcome.as_str_name().trim_start_matches("OUTCOME_")
        ),
        decision.explanation.clone(),
    ];
    for condition in &decision.conditions {
        lines.push(format!("  condition: {condition}"));
    }
    for finding in &decision.findings {
        let agency = bordermesh_proto::common::v1::Agency::try_from(finding.agency)
            .unwrap_or_default()
            .as_str_name()
            .trim_start_matches("AGENCY_")
            .to_owned();
        let verdict = bordermesh_proto::common::v1::Verdict::try_from(finding.verdict)
            .unwrap_or_default()
            .as_str_name()
            .trim_start_matches("VERDICT_")
            .to_owned();
        lines.push(format!("  {agency:<13} {:<16} {verdict}", finding.subject));
        for reason in &finding.reasons {
            lines.push(format!(
                "      {} [{}] {}",
                reason.code, reason.rule_id, reason.message
            ));
        }
    }
    lines.join("\n")
}

/// Sends the crossing in `file` to `gateway` and prints the decision.
pub async fn cross(file: &Path, gateway: &str, json: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let request = read_request(&text).with_context(|| format!("parsing {}", file.display()))?;
    let mut client = CrossingServiceClient::connect(gateway.to_owned())
        .await
        .with_context(|| format!("connecting to the gateway at {gateway}"))?;
    let response = match client.process_crossing(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            let mut message = format!("{:?}: {}", status.code(), status.message());
            if let Some(bad_request) = status.get_error_details().bad_request() {
                for violation in &bad_request.field_violations {
                    message.push_str(&format!(
                        "\n  {}: {}",
                        violation.field, violation.description
                    ));
                }
            }
            anyhow::bail!(message);
        }
    };
    let crossing = response
        .crossing
        .context("the gateway answered without a crossing")?;
    if json {
        println!("{}", crossing_json(&crossing)?);
    } else {
        println!("{}", summary(&crossing));
    }
    Ok(())
}

/// Walks the gateway's audit trail and reports every altered, relinked or removed entry.
/// Returns whether the trail is intact. The head hash it prints is what an operator records
/// elsewhere: a removed tail shows only against such an outside copy.
pub async fn verify_audit(database_url: &str) -> anyhow::Result<bool> {
    use crate::domain::audit::{self, Tampering};
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or_default();
        anyhow::ensure!(Path::new(path).exists(), "no gateway database at {path}");
    }
    let db = Db::connect(database_url, &crate::MIGRATIONS, Checkpoints::Periodic).await?;
    let entries = crate::store::Store::new(db.clone()).audit_entries().await?;
    db.close().await;
    let tampering = audit::verify(&entries);
    for found in &tampering {
        match found {
            Tampering::Altered { sequence } => println!("entry {sequence}: altered"),
            Tampering::BrokenLink { sequence } => {
                println!("entry {sequence}: does not follow the entry before it")
            }
            Tampering::Removed { after, before } => {
                println!("entries after {after} and before {before}: removed")
            }
        }
    }
    match entries.last() {
        Some(head) if tampering.is_empty() => println!(
            "audit trail intact: {} entries; head {} {}",
            entries.len(),
            head.sequence,
            head.hash
        ),
        None => println!("audit trail empty"),
        Some(_) => println!("audit trail TAMPERED: {} findings", tampering.len()),
    }
    Ok(tampering.is_empty())
}

/// Recomputes a stored crossing's first-line decision from the agencies' answers in the saga
/// log and says whether it still matches. Returns whether it does.
pub async fn replay(database_url: &str, crossing_id: &str) -> anyhow::Result<bool> {
    let db = Db::connect(database_url, &crate::MIGRATIONS, Checkpoints::Periodic).await?;
    let store = crate::store::Store::new(db.clone());
    let crossing = store
        .by_id(crossing_id)
        .await?
        .with_context(|| format!("no crossing {crossing_id}"))?;
    let replay = crate::saga::replay(&store, &crossing).await;
    db.close().await;
    let replay = replay?;
    let outcome = |d: &bordermesh_proto::crossing::v1::Decision| d.outcome().as_str_name();
    println!("crossing {crossing_id}");
    println!(
        "  stored:     {} inputs {}",
        outcome(&replay.stored),
        replay.stored.inputs_digest
    );
    println!(
        "  recomputed: {} inputs {}",
        outcome(&replay.recomputed),
        replay.recomputed.inputs_digest
    );
    for rule_set in &replay.recomputed.rule_sets {
        println!("  rule set {} version {}", rule_set.name, rule_set.version);
    }
    if replay.matches() {
        println!("the decision matches");
    } else if replay.stored.inputs_digest != replay.recomputed.inputs_digest {
        println!("the decision does NOT match: the recorded inputs changed since it was made");
    } else {
        println!(
            "the decision does NOT match: the rules changed since it was made (stored: {})",
            replay.stored.explanation
        );
    }
    Ok(replay.matches())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_crossing_reads_as_proto3_json() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/crossings");
        let mut read = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let request = read_request(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert!(!request.request_id.is_empty(), "{}", path.display());
            assert!(request.crossing.is_some());
            read += 1;
        }
        assert_eq!(read, 3);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(read_request(r#"{"requestId": "x", "crosing": {}}"#).is_err());
    }
}
