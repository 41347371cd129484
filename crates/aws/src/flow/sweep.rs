//! The one-minute sweep: everything no single delivery settles. In order, each bounded:
//! 1. **due retries and deadlines** (`byDue`: its shards, and one of the others in turn): TTL is late by minutes to hours, so the sweep fires
//!    what is overdue — a few at once, RunTask paced at `launch_rate` a second (ECS's own RunTask rate), page
//!    after page until nothing is due or `sweep_budget_seconds` is spent — and stops tasks past their deadline;
//! 2. **launches left behind**: interrupted (the claimer crashed) or deferred (AWS refused them for reasons of
//!    its own) and whose lease has run out, resumed the same way, page after page from the oldest;
//! 3. **outcomes never published**, published once (`republish`);
//! 4. **quiet RUNNING runs**, checked against ECS (`reconcile`);
//! 5. **ticks that never came**: registered jobs whose tick should have started a run by now (`missed`);
//! 6. **retries coming due**: with what is left of the budget, the sweep waits for the retries and deadlines
//!    falling due in the next `sweep_lookahead_seconds` and fires each at its due second — last, so that waiting
//!    never holds up the rest, and never past the budget, so that it does not overlap the next sweep.
//!
//! Exactly once holds as before: every fire, resume and publish is a conditional write, whoever runs it.
//! The sweep's clock is the time it was invoked at plus the (monotonic) time it has run, so what it records
//! says when it happened even in a long drain.

use super::*;
use futures_util::future::join_all;
use std::time::{Duration, Instant};

/// A launch left behind is looked for once it has been LAUNCHING this long: a deferred launch waits at least
/// 15 s (`reactor_core::step::launch_backoff`); whether its lease has run out is the conditional write's to say.
const RESUME_AFTER_SECONDS: i64 = 15;

/// The shards a sweep at `at` reads: the `configured` ones writers use now, and one of the others up to
/// [`MAX_SWEEP_SHARDS`] in turn (a different one each minute), where items written under a larger count wait
/// after `SweepShards` was lowered. Delays among them are fired by DynamoDB's TTL deletes meanwhile; every
/// shard is read within `MAX_SWEEP_SHARDS - configured` minutes.
pub(crate) fn shards_to_read(configured: u32, at: OffsetDateTime) -> impl Iterator<Item = u32> {
    let configured = configured.clamp(1, MAX_SWEEP_SHARDS);
    let beyond = MAX_SWEEP_SHARDS - configured;
    let minute = u64::try_from(at.unix_timestamp().div_euclid(60)).unwrap_or(0);
    let extra = (beyond > 0).then(|| configured + (minute % u64::from(beyond)) as u32);
    (0..configured).chain(extra)
}

/// The sweep's time: when it was invoked, plus how long it has run.
struct SweepClock {
    invoked: OffsetDateTime,
    started: Instant,
    budget: Duration,
}

impl SweepClock {
    fn now(&self) -> OffsetDateTime {
        self.invoked
            + time::Duration::try_from(self.started.elapsed()).unwrap_or(time::Duration::ZERO)
    }

    fn spent(&self) -> bool {
        self.started.elapsed() >= self.budget
    }

    /// The latest due time a sweep reads now: `lookahead` seconds on, but not past the end of its budget.
    fn horizon(&self, lookahead: u64) -> i64 {
        let end = self.invoked.unix_timestamp()
            + i64::try_from(self.budget.as_secs()).unwrap_or(i64::MAX / 2);
        let ahead = self.now().unix_timestamp() + i64::try_from(lookahead).unwrap_or(0);
        ahead.min(end)
    }

    /// Sleeps until the sweep's clock reaches `due` (epoch seconds): at least a second, at most what is left
    /// of the budget.
    async fn wait_until(&self, due: i64) {
        let ahead = OffsetDateTime::from_unix_timestamp(due)
            .map(|due| due - self.now())
            .ok()
            .and_then(|ahead| Duration::try_from(ahead).ok())
            .unwrap_or(Duration::ZERO);
        let left = self.budget.saturating_sub(self.started.elapsed());
        tokio::time::sleep(ahead.max(Duration::from_secs(1)).min(left)).await;
    }
}

/// At most `per_second` launches started in any one-second window.
struct Pacer {
    per_second: usize,
    window: Instant,
    used: usize,
}

impl Pacer {
    fn new(per_second: u32) -> Pacer {
        Pacer {
            per_second: (per_second as usize).max(1),
            window: Instant::now(),
            used: 0,
        }
    }

    /// Waits until `n` more launches fit in the current window (`n` at most `per_second`).
    async fn admit(&mut self, n: usize) {
        loop {
            if self.window.elapsed() >= Duration::from_secs(1) {
                self.window = Instant::now();
                self.used = 0;
            }
            if self.used + n <= self.per_second {
                self.used += n;
                return;
            }
            let rest = Duration::from_secs(1).saturating_sub(self.window.elapsed());
            tokio::time::sleep(rest).await;
        }
    }
}

impl<S: Store, L: Launcher, N: Notifier> Reactor<S, L, N> {
    /// The one-minute sweep (see the module's documentation). Keeps going past a failed item; the caller
    /// decides what a failure means.
    pub async fn sweep(&self, now: OffsetDateTime) -> Result<Swept, FlowError> {
        let clock = SweepClock {
            invoked: now,
            started: Instant::now(),
            budget: Duration::from_secs(self.settings.sweep_budget_seconds),
        };
        let mut pacer = Pacer::new(self.settings.launch_rate);
        let mut swept = Swept::default();
        // What is due now; what comes due within the look-ahead is waited for last (step 6).
        let coming = self
            .drain_due(
                &clock,
                &mut pacer,
                &mut swept,
                self.settings.sweep_lookahead_seconds,
                false,
            )
            .await?;
        self.drain_left_behind(&clock, &mut pacer, &mut swept)
            .await?;
        match self
            .store
            .unpublished_runs(clock.now().unix_timestamp(), self.settings.sweep_batch)
            .await
        {
            Ok(runs) => {
                for run_id in runs {
                    match self.republish(&run_id, clock.now()).await {
                        Ok(true) => swept.republished += 1,
                        Ok(false) => {}
                        Err(e) => {
                            swept.failed += 1;
                            tracing::error!(run = run_id.as_str(), error = %e, "publishing an unpublished outcome failed; the next sweep tries again");
                        }
                    }
                }
            }
            Err(e) => {
                swept.failed += 1;
                tracing::error!(error = %e, "reading unpublished outcomes failed; the next sweep tries again");
            }
        }
        match self.reconcile(clock.now()).await {
            Ok(reconciled) => {
                swept.reconciled = reconciled.judged;
                swept.failed += reconciled.failed;
                if reconciled.checked > 0 {
                    tracing::info!(
                        checked = reconciled.checked,
                        alive = reconciled.alive,
                        judged = reconciled.judged,
                        vanished = reconciled.vanished,
                        moved_on = reconciled.moved_on,
                        failed = reconciled.failed,
                        "reconciliation"
                    );
                }
            }
            Err(e) => {
                swept.failed += 1;
                tracing::error!(error = %e, "reconciling quiet runs failed; the next sweep tries again");
            }
        }
        match self.notice_missed_ticks(clock.invoked, clock.now()).await {
            Ok(found) => {
                swept.missed = found.missed;
                swept.failed += found.failed;
            }
            Err(e) => {
                swept.failed += 1;
                tracing::error!(error = %e, "reading the job registry for missed ticks failed; jobs list still shows them");
            }
        }
        // Only a sweep that saw retries coming due waits: an idle one reads nothing more.
        if coming.is_some() && !clock.spent() {
            self.drain_due(
                &clock,
                &mut pacer,
                &mut swept,
                self.settings.sweep_lookahead_seconds,
                true,
            )
            .await?;
        }
        tracing::info!(
            due = swept.due,
            launched = swept.launched,
            already_claimed = swept.already_claimed,
            stale = swept.stale,
            resumed = swept.resumed,
            deferred = swept.deferred,
            timed_out = swept.timed_out,
            reconciled = swept.reconciled,
            republished = swept.republished,
            missed = swept.missed,
            failed = swept.failed,
            "sweep"
        );
        Ok(swept)
    }

    /// Fires due retries and stops tasks past their deadline, page after page over every shard, until a pass
    /// finds no full page, a pass fails somewhere (the next sweep tries again), or the budget is spent. Each
    /// Query also reads what comes due within `lookahead` (and the budget), in the same call: without `wait`
    /// the first of those is answered; with it, when nothing more is due now, the sweep waits for the first
    /// and fires it at its due time, never before, until none is left or the budget is spent.
    async fn drain_due(
        &self,
        clock: &SweepClock,
        pacer: &mut Pacer,
        swept: &mut Swept,
        lookahead: u64,
        wait: bool,
    ) -> Result<Option<i64>, FlowError> {
        let chunk = self
            .settings
            .sweep_concurrency
            .clamp(1, pacer.per_second.max(1));
        // Every sweep fires at least one group, however little budget it has.
        let mut fired_a_group = false;
        loop {
            let (mut more, failed_before) = (false, swept.failed);
            let progress = |s: &Swept| s.launched + s.deferred + s.stale + s.timed_out;
            let progress_before = progress(swept);
            // The first item that is not due yet but falls due within this sweep's look-ahead.
            let mut next_due: Option<i64> = None;
            for shard in shards_to_read(self.settings.sweep_shards, clock.invoked) {
                let now = clock.now().unix_timestamp();
                let page = self
                    .store
                    .due_items(
                        shard,
                        clock.horizon(lookahead).max(now),
                        self.settings.sweep_batch,
                    )
                    .await?;
                // Pages come in due order: the items due now first, then those coming due.
                let (page, coming): (Vec<_>, Vec<_>) =
                    page.into_iter().partition(|item| item.due_at() <= now);
                more |= coming.is_empty() && page.len() >= self.settings.sweep_batch as usize;
                if let Some(first) = coming.first() {
                    next_due = Some(next_due.map_or(first.due_at(), |n| n.min(first.due_at())));
                }
                let mut retries = Vec::new();
                for due in page {
                    match due {
                        DueItem::Retry(delay) => retries.push(delay),
                        DueItem::Deadline(deadline) => {
                            match self.enforce_deadline(&deadline, clock.now()).await {
                                Ok(Enforced::Stopped { .. }) => swept.timed_out += 1,
                                Ok(Enforced::Stale) => {}
                                Err(e) => {
                                    swept.failed += 1;
                                    tracing::error!(run = deadline.run_id.as_str(), attempt = deadline.attempt, error = %e, "stopping a task past its deadline failed; the next sweep tries again");
                                }
                            }
                        }
                    }
                }
                for group in retries.chunks(chunk) {
                    // What is left of the page stays due: the next sweep takes it.
                    if fired_a_group && clock.spent() {
                        return Ok(next_due);
                    }
                    fired_a_group = true;
                    pacer.admit(group.len()).await;
                    // The group's runs in one read rather than one each after its claim (a fire reads its run
                    // alone when this read fails or leaves it out).
                    let ids: Vec<&str> = group.iter().map(|d| d.run_id.as_str()).collect();
                    let known = self.store.runs(&ids).await.unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "reading the due retries' runs at once failed; each is read alone");
                        Vec::new()
                    });
                    let run_of = |d: &DelayItem| known.iter().find(|r| r.run_id == d.run_id);
                    let fired = join_all(
                        group
                            .iter()
                            .map(|d| self.fire_known(d, run_of(d), clock.now())),
                    )
                    .await;
                    for (delay, result) in group.iter().zip(fired) {
                        swept.due += 1;
                        match result {
                            Ok(Fired::Launched(Launch::Deferred { .. })) => swept.deferred += 1,
                            Ok(Fired::Launched(_)) => swept.launched += 1,
                            Ok(Fired::AlreadyClaimed) => swept.already_claimed += 1,
                            Ok(Fired::Stale | Fired::NotDue) => swept.stale += 1,
                            Err(e) => {
                                swept.failed += 1;
                                tracing::error!(run = delay.run_id.as_str(), attempt = delay.attempt, error = %e, "due retry failed; the next sweep tries again");
                            }
                        }
                    }
                }
            }
            if swept.failed > failed_before || clock.spent() {
                return Ok(next_due);
            }
            // Another pass at once only when a page was full and this one changed something: a page read
            // again unchanged (a retry claimed elsewhere that left its item) is the next sweep's.
            if more && progress(swept) > progress_before {
                continue;
            }
            match next_due {
                // Items falling due in the same second are fired together, one pass a second at most.
                Some(at) if wait => clock.wait_until(at).await,
                coming => return Ok(coming),
            }
        }
    }

    /// Resumes launches left behind (interrupted, or deferred by AWS's refusal) whose lease has run out: every
    /// run LAUNCHING for more than a few seconds, page after page from the oldest (a cursor, so runs whose lease
    /// still runs cannot hold back those behind them), paced like the due retries, within the budget.
    async fn drain_left_behind(
        &self,
        clock: &SweepClock,
        pacer: &mut Pacer,
        swept: &mut Swept,
    ) -> Result<(), FlowError> {
        let chunk = self
            .settings
            .sweep_concurrency
            .clamp(1, pacer.per_second.max(1));
        let mut after = String::new();
        loop {
            let before = clock.now() - time::Duration::seconds(RESUME_AFTER_SECONDS);
            let page = self
                .store
                .quiet_runs(
                    RunStatus::Launching,
                    &after,
                    before,
                    self.settings.sweep_batch,
                )
                .await?;
            for group in page.chunks(chunk) {
                if clock.spent() {
                    return Ok(());
                }
                pacer.admit(group.len()).await;
                let resumed = join_all(
                    group
                        .iter()
                        .map(|quiet| self.resume(&quiet.run_id, clock.now())),
                )
                .await;
                for (quiet, result) in group.iter().zip(resumed) {
                    match result {
                        Ok(Some(Launch::Deferred { .. })) => swept.deferred += 1,
                        Ok(Some(_)) => swept.resumed += 1,
                        Ok(None) => {}
                        Err(e) => {
                            swept.failed += 1;
                            tracing::error!(run = quiet.run_id.as_str(), error = %e, "resuming a launch left behind failed; the next sweep tries again");
                        }
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() >= self.settings.sweep_batch as usize => {
                    after = last.sort_key.clone();
                }
                _ => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_reads_its_shards_and_one_more_in_turn() {
        let minute =
            |m: i64| OffsetDateTime::from_unix_timestamp(1_795_000_000 / 60 * 60 + m * 60).unwrap();
        #[rustfmt::skip]
        let cases: &[(u32, i64, &[u32])] = &[
            // configured, minute, shards read
            (4,  0, &[0, 1, 2, 3, 4 + (1_795_000_000 / 60 % 60) as u32]),
            (64, 0, &(0..64).collect::<Vec<_>>()),
            (0,  0, &[0, 1 + (1_795_000_000 / 60 % 63) as u32]),
            (99, 0, &(0..64).collect::<Vec<_>>()),
        ];
        for (configured, m, want) in cases {
            assert_eq!(
                shards_to_read(*configured, minute(*m)).collect::<Vec<_>>(),
                *want,
                "{configured}"
            );
        }
        // Within 60 minutes a sweep with 4 shards has read every one of the 64.
        let mut seen = std::collections::BTreeSet::new();
        for m in 0..60 {
            seen.extend(shards_to_read(4, minute(m)));
        }
        assert_eq!(seen.len(), 64);
    }
}
