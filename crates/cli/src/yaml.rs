//! Job files written in YAML, read as the JSON they stand for: one path for both formats after this.

use serde_json::Value;

/// The YAML document as JSON. The error names where the text stops being YAML, never the text (a job file
/// may hold secrets).
pub fn to_json(text: &str) -> Result<Value, String> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| match e.location() {
        Some(at) => format!(
            "not YAML (or not a JSON-like YAML document) at line {}, column {}",
            at.line(),
            at.column()
        ),
        None => "not YAML (or not a JSON-like YAML document)".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::to_json;

    #[test]
    fn yaml_reads_as_the_json_it_stands_for_and_errors_quote_nothing() {
        let yaml = "job: nightly\nrunTask:\n  taskDefinition: report:7\n  overrides:\n    containerOverrides:\n      - name: app\n        command: [run, --date, '{{scheduledDate}}']\n";
        let value = to_json(yaml).unwrap();
        assert_eq!(value["runTask"]["taskDefinition"], "report:7");
        assert_eq!(
            value["runTask"]["overrides"]["containerOverrides"][0]["command"][2],
            "{{scheduledDate}}"
        );
        let broken = to_json("job: nightly\n  password: hunter2: x\n").unwrap_err();
        assert!(broken.starts_with("not YAML"), "{broken}");
        assert!(!broken.contains("hunter2"), "{broken}");
    }
}
