//! `make bench` still runs: its quick mode (every section small, the debug binaries) writes a report with all
//! ten sections and figures in each. The figures themselves are the benchmark's business, not a test's.

use crate::cli::root;
use std::process::Command;

#[test]
fn the_quick_benchmark_writes_all_ten_sections_with_figures() {
    let binaries = crate::rie::binaries();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(root())
        .args(["build", "--locked", "-p", "reactor-bench"])
        .status()
        .unwrap();
    assert!(built.success(), "building the benchmark failed");
    let out = std::env::temp_dir().join(format!("ecs-reactor-bench-{}.md", std::process::id()));
    // The benchmark runs the emulator, whose port is one per machine: no other test's emulator meanwhile.
    let turn = crate::rie::one_at_a_time();
    let run = Command::new(binaries.join("bench"))
        .current_dir(root())
        .args(["--quick", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    drop(turn);
    assert!(
        run.status.success(),
        "bench --quick failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    for heading in [
        "## Summary",
        "## 1–3. Init, warm duration and own CPU, memory",
        "## 4. Package size",
        "## 5. AWS calls per run and cost per million runs",
        "## 6. The Python twin of the classifier",
        "## 7. Burst",
        "## 8. Retry lateness",
        "## 9. Cron storm",
        "## 10. The table's partition keys next to ECS's launch rate",
    ] {
        assert!(report.contains(heading), "no {heading:?} in:\n{report}");
    }
    for n in 1..=9 {
        let row = report
            .lines()
            .find(|l| l.starts_with(&format!("| {n} |")))
            .unwrap_or_else(|| panic!("no summary row {n} in:\n{report}"));
        let figure = row.split('|').nth(3).unwrap_or("");
        let expected = if n == 4 {
            figure.contains("not measured in --quick")
        } else {
            figure.chars().any(|c| c.is_ascii_digit())
        };
        assert!(expected, "summary row {n} has no figure: {row}");
    }
    // Every function measured, every call counted, nothing lost in the burst.
    for function in [
        "| starter |",
        "| classifier |",
        "| scheduler |",
        "| classifier (Python twin) |",
    ] {
        assert!(report.contains(function), "no {function} row in:\n{report}");
    }
    assert!(
        report.contains("succeeds at once | starter ×1, classifier ×1 |"),
        "{report}"
    );
    assert!(report.contains("**0 lost**"), "{report}");
    // The storm: RunTask was throttled, and still every run started exactly once and none failed.
    for line in [
        "| runs not started exactly once (no task, two tasks, an attempt 2, not RUNNING) | 0 |",
        "| runs FAILED or with an attempt used up | 0 |",
    ] {
        assert!(report.contains(line), "no {line:?} in:\n{report}");
    }
    let throttled = report
        .lines()
        .find_map(|l| {
            l.strip_prefix("| RunTask calls that reached ECS / answered ThrottlingException | ")
        })
        .and_then(|l| {
            l.trim_end_matches(" |")
                .split(" / ")
                .nth(1)?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no throttled RunTask count in:\n{report}"));
    assert!(throttled > 0, "the storm was not throttled:\n{report}");
    assert!(report.contains("The first key to bind is"), "{report}");
}
