//! `jobs apply DIR`: every file validated (one problem a line; nothing written if any), the plan shown, then
//! applied job by job: a job's spec is registered before its schedule exists (a tick always finds its spec),
//! and its schedule deleted before its spec (no tick of a deleted job finds nothing). Every registry write is
//! conditional on the revision the plan saw, so two applies racing cannot merge; a second apply of the same
//! files changes nothing.

use super::locate_group;
use super::plan::{self, Change, Desired, Plan, Registered, RegistryWrite, ScheduleWrite, Step};
use super::schedules::Schedules;
use crate::args::JobsApplyArgs;
use crate::aws::{aws_failure, caller_arn, registry_vault, runtime};
use crate::failure::Failure;
use crate::validate;
use reactor_aws::flow::{open_registered, seal_spec};
use reactor_aws::records::JobItem;
use reactor_aws::store::{Changed, DynamoStore, Registry};
use reactor_aws::vault::Vault;
use serde_json::{json, Value};
use std::path::Path;
use time::OffsetDateTime;

pub fn run(args: &JobsApplyArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let dir = Path::new(&args.dir);
    if !dir.is_dir() {
        return Err(Failure::BadInput(format!(
            "{}: not a directory of job files (jobs apply reads a directory, e.g. jobs/)",
            args.dir
        )));
    }
    let files = validate::read_dir(dir)?;
    let desired: Vec<Desired> = validate::validate_all(&files)?
        .into_iter()
        .map(|(path, file)| {
            let spec = file.to_value().map_err(|e| {
                Failure::BadInput(format!(
                    "{}: the job cannot be written as JSON ({})",
                    path.display(),
                    super::ClassifyName::classify_name(&e)
                ))
            })?;
            Ok(Desired {
                job: file.job.job.clone(),
                spec,
                schedule: file.schedule,
            })
        })
        .collect::<Result<_, Failure>>()?;
    let problems = plan::problems(&desired);
    if !problems.is_empty() {
        return Err(Failure::Problems(problems));
    }
    runtime()?.block_on(async {
        let (sdk, table, group) = locate_group(&args.group).await?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
        let vault = registry_vault(&args.group.table, &sdk, &table).await?;
        let schedules = Schedules::new(&sdk, group);
        let mut registered = Vec::new();
        // What each job was applied with, its sealed values opened (a changed value is a change).
        for item in store
            .registered_jobs()
            .await
            .map_err(|e| aws_failure(&table, &e))?
        {
            let spec = open_registered(vault.as_ref(), &item)
                .await
                .and_then(|file| {
                    file.to_value().map_err(|e| {
                        reactor_aws::flow::FlowError::UnreadableJob {
                            job: item.job.clone(),
                            message: format!("{:?}", e.classify()),
                        }
                    })
                })
                .map_err(|e| match e {
                    e @ reactor_aws::flow::FlowError::UnreadableJob { .. } => Failure::Aws(format!(
                        "{e}: the registry holds a spec this release cannot read; apply its file again"
                    )),
                    e => aws_failure(&table, &e),
                })?;
            registered.push(Registered {
                job: item.job.clone(),
                spec,
                revision: item.revision,
                suspended: item.suspended_by.is_some(),
                schedule_applied: item.schedule_applied.clone(),
            });
        }
        let scheduled = schedules.states().await?;
        let group = schedules.group.clone();
        let fingerprint =
            |s: &reactor_core::jobfile::Schedule, enabled: bool| group.fingerprint(s, enabled);
        let plan = plan::plan(&desired, &registered, &scheduled, &fingerprint, args.prune);
        let applying = !args.dry_run && !plan.changes_nothing();
        if applying {
            let by = caller_arn(&sdk, &table).await?;
            if vault.is_none() && plan.steps.iter().any(|s| writes_values(&s.registry)) {
                eprintln!(
                    "ecs-reactor: note: no overrides key (REACTOR_OVERRIDES_KEY, or --stack for its OverridesKeyArn): \
                     environment values and commands are registered as given, readable by whoever reads the table"
                );
            }
            for (done, step) in plan.steps.iter().enumerate() {
                apply(&store, &schedules, vault.as_ref(), step, &by, now)
                    .await
                    .map_err(|e| stopped(e, done, &plan))?;
            }
        }
        Ok(report(&plan, args, applying, &schedules.group.name))
    })
}

/// Whether a registry write holds environment values or a command (what a key would seal).
fn writes_values(write: &RegistryWrite) -> bool {
    match write {
        RegistryWrite::Put { spec, .. } => reactor_core::jobfile::read(spec.clone(), None)
            .is_ok_and(|file| !reactor_core::secrets::split(&file.job).1.is_empty()),
        _ => false,
    }
}

/// One job's step, registry and schedule in the safe order.
async fn apply(
    store: &DynamoStore,
    schedules: &Schedules,
    vault: Option<&Vault>,
    step: &Step,
    by: &str,
    now: OffsetDateTime,
) -> Result<(), Failure> {
    let table = store.table().to_owned();
    let refused = |what: &str| {
        Failure::Conflict(format!(
            "job {:?} was {what} since the plan was made (another apply?): run apply again to see the new plan",
            step.job
        ))
    };
    if step.change == Change::Delete {
        if step.schedule == ScheduleWrite::Delete {
            schedules.delete(&step.job).await?;
        }
        if let RegistryWrite::Delete { expected } = step.registry {
            let deleted = store
                .unregister_job(&step.job, expected)
                .await
                .map_err(|e| aws_failure(&table, &e))?;
            if deleted == Changed::Refused {
                return Err(refused("changed or deleted"));
            }
        }
        return Ok(());
    }
    if let RegistryWrite::Put {
        spec,
        expected,
        revision,
    } = &step.registry
    {
        let file = reactor_core::jobfile::read(spec.clone(), Some(&step.job))
            .map_err(Failure::Problems)?;
        let (stored, sealed) = seal_spec(vault, &file)
            .await
            .map_err(|e| aws_failure(&table, &e))?;
        let mut item = JobItem::new(&step.job, stored.to_string(), *revision, by, now);
        item.sealed_overrides = sealed;
        let written = store
            .register_job(&item, *expected)
            .await
            .map_err(|e| aws_failure(&table, &e))?;
        if written == Changed::Refused {
            return Err(refused(if expected.is_some() {
                "changed or deleted"
            } else {
                "registered"
            }));
        }
    }
    let applied = match &step.schedule {
        ScheduleWrite::Put {
            schedule,
            enabled,
            exists,
            fingerprint,
        } => {
            schedules
                .put(&step.job, schedule, *enabled, *exists)
                .await?;
            Some(fingerprint.as_str())
        }
        ScheduleWrite::Delete => {
            schedules.delete(&step.job).await?;
            None
        }
        ScheduleWrite::None => return Ok(()),
    };
    // Recorded only once the schedule is written, so a write that failed is retried by the next apply; and
    // only at the revision planned, so a suspend or another apply in between is not overwritten unseen.
    let recorded = store
        .mark_schedule_applied(&step.job, step.revision, applied)
        .await
        .map_err(|e| aws_failure(&table, &e))?;
    if recorded == Changed::Refused {
        return Err(refused("changed or suspended"));
    }
    Ok(())
}

/// A failure mid-apply: what was done, where it stopped, and that applying again is safe.
fn stopped(e: Failure, done: usize, plan: &Plan) -> Failure {
    let job = plan.steps.get(done).map(|s| s.job.as_str()).unwrap_or("-");
    let message = format!(
        "{e} (applied {done} of {} steps, stopped at job {job:?}; what was applied stays: apply again to finish)",
        plan.steps.len()
    );
    match e {
        Failure::Conflict(_) => Failure::Conflict(message),
        Failure::BadInput(_) | Failure::Problems(_) => Failure::BadInput(message),
        Failure::NotFound(_) => Failure::NotFound(message),
        Failure::Aws(_) => Failure::Aws(message),
    }
}

/// The plan in words (changes only: 500 unchanged jobs are one number) or as JSON.
fn report(plan: &Plan, args: &JobsApplyArgs, applied: bool, group: &str) -> String {
    let counts = json!({
        "create": plan.count(Change::Create),
        "change": plan.count(Change::Update),
        "delete": plan.count(Change::Delete),
        "same": plan.count(Change::Same),
    });
    if args.group.table.json {
        let steps: Vec<Value> = plan
            .steps
            .iter()
            .map(|s| json!({"job": s.job, "change": s.change.as_str(), "what": s.what}))
            .collect();
        return serde_json::to_string_pretty(&json!({
            "steps": steps, "kept": plan.kept, "summary": counts, "applied": applied, "dryRun": args.dry_run,
        }))
        .unwrap_or_default();
    }
    let mut lines: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.change != Change::Same)
        .map(|s| {
            let what = match (s.change, &s.schedule) {
                (Change::Create, ScheduleWrite::Put { schedule, .. }) => format!(
                    "schedule {} {}",
                    schedule.expression,
                    schedule.timezone.as_deref().unwrap_or("UTC")
                ),
                (Change::Create, _) => "no schedule (runs when started: jobs run)".into(),
                _ => s.what.join(", "),
            };
            format!("{} {:<40} {what}", s.change.sign(), s.job)
        })
        .collect();
    lines.extend(plan.kept.iter().map(|job| {
        format!("! {job:<40} registered or scheduled, no file: kept (--prune deletes it)")
    }));
    lines.push(format!(
        "{} to create, {} to change, {} to delete, {} unchanged (schedule group {group}).",
        counts["create"], counts["change"], counts["delete"], counts["same"]
    ));
    lines.push(
        if plan.changes_nothing() {
            "nothing to change."
        } else if args.dry_run {
            "dry run: nothing written."
        } else if applied {
            "applied."
        } else {
            "not applied."
        }
        .into(),
    );
    lines.join("\n")
}
