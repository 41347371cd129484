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
}
