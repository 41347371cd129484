//! The README's rule tables are printed by the code they describe, so they cannot drift apart.

use crate::cli::{root, run};

#[test]
fn readme_rule_table_is_the_one_the_code_uses() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let begin = "<!-- rules:begin (ecs-reactor rules --markdown) -->\n";
    let end = "\n<!-- rules:end -->";
    let start = readme
        .find(begin)
        .expect("README has the rules:begin marker")
        + begin.len();
    let stop = readme[start..]
        .find(end)
        .expect("README has the rules:end marker")
        + start;
    let out = run(&["rules", "--markdown"]);
    assert_eq!(out.code, 0);
    assert!(
        readme[start..stop] == *out.stdout.trim_end(),
        "README's rule table differs from `ecs-reactor rules --markdown`; paste its output between the markers"
    );
}

#[test]
fn rules_json_lists_every_rule() {
    let out: serde_json::Value = serde_json::from_str(&run(&["rules", "--json"]).stdout).unwrap();
    assert!(out["stoppedTask"].as_array().unwrap().len() >= 25);
    assert!(out["launch"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["hint"].as_str().is_some_and(|h| !h.is_empty())));
    // Data, not display text: the action alone, modifiers as booleans, conditions as lists.
    let rule = |list: &str, id: &str| {
        out[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {list}"))
    };
    let spot = rule("stoppedTask", "spot-interruption");
    assert_eq!(spot["action"], "RETRY_NOW");
    assert_eq!(spot["free"], true);
    assert_eq!(
        spot["when"]["stopCodes"],
        serde_json::json!(["SpotInterruption"])
    );
    let throttled = rule("launch", "launch-throttled");
    assert_eq!(throttled["deferred"], true);
    for r in out["stoppedTask"]
        .as_array()
        .unwrap()
        .iter()
        .chain(out["launch"].as_array().unwrap())
    {
        let action = r["action"].as_str().unwrap_or_default();
        assert!(
            ["SUCCEED", "RETRY_NOW", "RETRY_LATER", "FAIL"].contains(&action),
            "{r}"
        );
        let when = format!("{}{}", r["when"], r["whenAny"]);
        assert!(!when.contains('`'), "no Markdown in the conditions: {r}");
    }
}

/// The README's Logs Insights queries filter on log messages the functions really write (a renamed message
/// would leave a query silently empty).
#[test]
fn logs_insights_queries_name_messages_the_code_logs() {
    let readme = std::fs::read_to_string(crate::cli::root().join("README.md")).unwrap();
    let start = readme
        .find("## Logs Insights")
        .expect("README has a Logs Insights section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut sources = String::new();
    let mut dirs = vec![crate::cli::root().join("crates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let messages: Vec<&str> = section
        .match_indices("message = \"")
        .filter_map(|(i, m)| section[i + m.len()..].split('"').next())
        .collect();
    assert!(messages.len() >= 4, "{messages:?}");
    for message in messages {
        assert!(
            sources.contains(&format!("\"{message}\"")),
            "the README queries message {message:?}, which no function logs"
        );
    }
}
