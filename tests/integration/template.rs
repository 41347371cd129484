//! template.yml, the deployment: it lints clean, it declares the attempts table the code provisions locally,
//! and it wires the loop (events → functions → permissions) the way the code expects. Evaluated for sample
//! parameters, RunTask is allowed for exactly the intended task definitions, and the example schedule sends a
//! job the starter accepts, naming the run after the tick.
//!
//! The template is read as JSON through SAM CLI's own YAML loader (it understands `!Ref`, `!Sub`, …), from the
//! venv `make venv` installs.

use crate::cli::root;
use crate::moto::{moto, unique};
use reactor_aws::metrics::{self, Metric};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The binaries the functions are built from, one crate each under crates/.
const BINARIES: [&str; 3] = ["starter", "classifier", "scheduler"];

fn venv_tool(name: &str) -> PathBuf {
    let path = root().join(".venv/bin").join(name);
    assert!(
        path.exists(),
        "{} not found — run `make venv` (make test does)",
        path.display()
    );
    path
}

/// Runs a venv tool in the repository root, offline (region set, telemetry off).
fn run_tool(name: &str, args: &[&str]) -> Output {
    Command::new(venv_tool(name))
        .args(args)
        .current_dir(root())
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap_or_else(|e| panic!("could not run {name}: {e} — run `make venv`"))
}

/// template.yml as JSON, intrinsic functions in their long form (`{"Ref": …}`, `{"Fn::Sub": …}`).
fn template() -> Value {
    template_at("template.yml")
}

/// A CloudFormation template of the repository, as JSON (SAM's own YAML loader: short-form intrinsics).
fn template_at(path: &str) -> Value {
    let out = run_tool(
        "python",
        &[
            "-c",
            "import json, sys; from samcli.yamlhelper import yaml_parse; print(json.dumps(yaml_parse(open(sys.argv[1]).read())))",
            path,
        ],
    );
    assert!(
        out.status.success(),
        "reading {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the YAML loader prints one JSON document")
}

#[test]
fn template_lints_clean() {
    #[rustfmt::skip]
    let checks: &[(&str, &[&str])] = &[
        ("cfn-lint", &["template.yml"]),
        ("sam", &["validate", "--lint", "--template", "template.yml"]),
        // Without --lint, sam validate runs the SAM translator itself, which rejects what the linters let
        // through (e.g. a DeadLetterConfig with both Arn and Type).
        ("sam", &["validate", "--template", "template.yml"]),
    ];
    for (tool, args) in checks {
        let out = run_tool(tool, args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "`{tool} {}` failed ({}):\n{stdout}\n{stderr}",
            args.join(" "),
            out.status
        );
        if *tool == "cfn-lint" {
            assert_eq!(stdout.trim(), "", "cfn-lint reported findings");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The attempts table
// ---------------------------------------------------------------------------------------------------------

/// What must agree between template.yml and `provision::create_table`, in a form that compares readably.
struct TableShape {
    /// (attribute, HASH | RANGE), in order.
    key_schema: Vec<(String, String)>,
    /// attribute → S | N
    attributes: BTreeMap<String, String>,
    /// index → (key schema, projection type)
    indexes: BTreeMap<String, (Vec<(String, String)>, String)>,
    billing_mode: String,
    stream_view_type: String,
    ttl_attribute: String,
}

impl TableShape {
    /// One line per fact ("attribute dueAt" → "N", "index byDue key 2" → "dueAt RANGE", …), so that a
    /// difference names exactly what differs.
    fn facts(&self) -> BTreeMap<String, String> {
        let mut facts = BTreeMap::new();
        for (i, (name, kind)) in self.key_schema.iter().enumerate() {
            facts.insert(format!("table key {}", i + 1), format!("{name} {kind}"));
        }
        for (name, kind) in &self.attributes {
            facts.insert(format!("attribute {name}"), kind.clone());
        }
        for (index, (keys, projection)) in &self.indexes {
            for (i, (name, kind)) in keys.iter().enumerate() {
                facts.insert(
                    format!("index {index} key {}", i + 1),
                    format!("{name} {kind}"),
                );
            }
            facts.insert(format!("index {index} projection"), projection.clone());
        }
        facts.insert("billing mode".into(), self.billing_mode.clone());
        facts.insert("stream view type".into(), self.stream_view_type.clone());
        facts.insert("TTL attribute".into(), self.ttl_attribute.clone());
        facts
    }
}

fn keys_of(schema: &Value) -> Vec<(String, String)> {
    schema
        .as_array()
        .expect("KeySchema is a list")
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap().to_owned(),
                k["KeyType"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn template_table(template: &Value) -> (String, TableShape) {
    let (id, table) = resources_of_type(template, "AWS::DynamoDB::Table")
        .into_iter()
        .next()
        .expect("template.yml declares a DynamoDB table");
    let p = &table["Properties"];
    assert_eq!(
        p["TimeToLiveSpecification"]["Enabled"],
        json!(true),
        "TTL must be enabled: expired delays fire retries"
    );
    let shape = TableShape {
        key_schema: keys_of(&p["KeySchema"]),
        attributes: p["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["AttributeName"].as_str().unwrap().to_owned(),
                    a["AttributeType"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
        indexes: p["GlobalSecondaryIndexes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["IndexName"].as_str().unwrap().to_owned(),
                    (
                        keys_of(&i["KeySchema"]),
                        i["Projection"]["ProjectionType"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    ),
                )
            })
            .collect(),
        billing_mode: p["BillingMode"]
            .as_str()
            .unwrap_or("PROVISIONED")
            .to_owned(),
        stream_view_type: p["StreamSpecification"]["StreamViewType"]
            .as_str()
            .unwrap_or("none")
            .to_owned(),
        ttl_attribute: p["TimeToLiveSpecification"]["AttributeName"]
            .as_str()
            .unwrap_or("none")
            .to_owned(),
    };
    (id, shape)
}

#[tokio::test]
async fn the_local_table_matches_template_yml() {
    let (id, declared) = template_table(&template());

    let config = moto().sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let name = unique("template-table");
    reactor_testkit::provision::create_table(&client, &name)
        .await
        .unwrap();
    let table = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        schema
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let provisioned = TableShape {
        key_schema: keys(table.key_schema()),
        attributes: table
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect(),
        indexes: table
            .global_secondary_indexes()
            .iter()
            .map(|i| {
                (
                    i.index_name().unwrap().to_owned(),
                    (
                        keys(i.key_schema()),
                        i.projection()
                            .and_then(|p| p.projection_type())
                            .map_or("none", |t| t.as_str())
                            .to_owned(),
                    ),
                )
            })
            .collect(),
        billing_mode: table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map_or("PROVISIONED", |b| b.as_str())
            .to_owned(),
        stream_view_type: table
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map_or("none", |v| v.as_str())
            .to_owned(),
        ttl_attribute: ttl.attribute_name().unwrap_or("none").to_owned(),
    };
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );
    let (left, right) = (declared.facts(), provisioned.facts());
    let drift: Vec<String> = left
        .keys()
        .chain(right.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| left.get(*k) != right.get(*k))
        .map(|k| {
            format!(
                "  {k}: template.yml {:?}, create_table {:?}",
                left.get(k),
                right.get(k)
            )
        })
        .collect();
    assert!(
        drift.is_empty(),
        "template.yml's {id} and provision::create_table disagree (change both):\n{}",
        drift.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------------------
// The wiring
// ---------------------------------------------------------------------------------------------------------

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.clone(), r))
        .collect()
}

/// The three functions: binary → (logical ID, resource).
fn functions(template: &Value) -> BTreeMap<String, (String, &Value)> {
    resources_of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, f)| {
            // `make build` puts each binary in target/lambda/<binary>/, which CodeUri names.
            let binary = f["Properties"]["CodeUri"]
                .as_str()
                .and_then(|uri| uri.strip_prefix("target/lambda/"))
                .and_then(|rest| rest.strip_suffix('/'))
                .unwrap_or_else(|| panic!("{id}: CodeUri is not target/lambda/<binary>/"))
                .to_owned();
            (binary, (id, f))
        })
        .collect()
}

/// A function property as deployed: the function's own, else the Globals one.
fn property<'a>(template: &'a Value, function: &'a Value, name: &str) -> &'a Value {
    match &function["Properties"][name] {
        Value::Null => &template["Globals"]["Function"][name],
        own => own,
    }
}

/// One way events reach a function: a SAM event (its Type and Properties) or a target of a plain
/// AWS::Events::Rule (Type "Rule"; EventPattern / ScheduleExpression and the target's input settings).
struct Source {
    function: String,
    name: String,
    kind: String,
    properties: Value,
}

fn sources(template: &Value) -> Vec<Source> {
    let mut all = Vec::new();
    for (id, f) in resources_of_type(template, "AWS::Serverless::Function") {
        for (name, event) in f["Properties"]["Events"].as_object().into_iter().flatten() {
            all.push(Source {
                function: id.clone(),
                name: name.clone(),
                kind: event["Type"].as_str().unwrap_or_default().to_owned(),
                properties: event["Properties"].clone(),
            });
        }
    }
    for (id, rule) in resources_of_type(template, "AWS::Events::Rule") {
        for target in rule["Properties"]["Targets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(function) = target["Arn"]["Fn::GetAtt"][0].as_str() else {
                continue;
            };
            let mut properties = target.clone();
            properties["Pattern"] = rule["Properties"]["EventPattern"].clone();
            properties["Schedule"] = rule["Properties"]["ScheduleExpression"].clone();
            all.push(Source {
                function: function.to_owned(),
                name: id.clone(),
                kind: "Rule".into(),
                properties,
            });
        }
    }
    all
}

/// The statements of a policy document's `Statement`, both branches of an `Fn::If` included.
fn statements(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().flat_map(statements).collect(),
        Value::Object(o) if o.contains_key("Fn::If") => o["Fn::If"].as_array().unwrap()[1..]
            .iter()
            .flat_map(statements)
            .collect(),
        Value::Object(o) if o.get("Ref") == Some(&json!("AWS::NoValue")) => vec![],
        Value::Object(_) => vec![value],
        _ => panic!("not a policy statement: {value}"),
    }
}

/// Every policy statement anywhere in the template: (where, statement).
fn all_statements(value: &Value, path: &str, found: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(o) => {
            if let Some(list) = o.get("Statement") {
                found.extend(
                    statements(list)
                        .into_iter()
                        .map(|s| (path.to_owned(), s.clone())),
                );
            }
            for (k, v) in o {
                let path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                all_statements(v, &path, found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                all_statements(v, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(list) => list
            .iter()
            .map(|a| a.as_str().expect("an Action is a string").to_owned())
            .collect(),
        other => panic!("statement without a plain Action ({other}): {statement}"),
    }
}

#[test]
fn template_wires_the_loop() {
    let template = template();
    let functions = functions(&template);
    let (table, _) = template_table(&template);
    let topic = resources_of_type(&template, "AWS::SNS::Topic")
        .first()
        .expect("an SNS topic for outcomes")
        .0
        .clone();
    let id_of = |binary: &str| functions[binary].0.clone();

    // Each function: built from one of the workspace's binaries, on the runtime those binaries are built for,
    // with the configuration `Config::from_env` reads.
    assert_eq!(
        functions.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut b = BINARIES.to_vec();
            b.sort();
            b
        },
        "one function per binary"
    );
    for (binary, (id, f)) in &functions {
        assert!(
            root()
                .join("crates")
                .join(binary)
                .join("src/main.rs")
                .exists(),
            "{id}: no crates/{binary} binary in the workspace"
        );
        #[rustfmt::skip]
        let expected = [
            ("Runtime", json!("provided.al2023")),
            ("Architectures", json!(["arm64"])),
            ("Handler", json!("bootstrap")),
            ("CodeUri", json!(format!("target/lambda/{binary}/"))),
        ];
        for (name, value) in expected {
            assert_eq!(property(&template, f, name), &value, "{id}.{name}");
        }
        // Built by `make build`, not by `sam build` (which would build each function on its own).
        assert_eq!(
            f["Metadata"]["SkipBuild"],
            json!(true),
            "{id}: Metadata.SkipBuild"
        );
        assert!(
            f["Metadata"].get("BuildMethod").is_none(),
            "{id}: Metadata.BuildMethod"
        );
        let mut env = template["Globals"]["Function"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some(own) = f["Properties"]["Environment"]["Variables"].as_object() {
            env.extend(own.clone());
        }
        assert_eq!(
            env.get("REACTOR_TABLE"),
            Some(&json!({"Ref": table})),
            "{id}: REACTOR_TABLE"
        );
        assert_eq!(
            env.get("REACTOR_TOPIC_ARN"),
            Some(&json!({"Ref": topic})),
            "{id}: REACTOR_TOPIC_ARN"
        );
        // The starter's guard: the stack's cluster, the allowed families, no role overrides.
        assert_eq!(
            env.get("REACTOR_ALLOWED_CLUSTERS"),
            Some(&json!({"Ref": "JobCluster"})),
            "{id}: REACTOR_ALLOWED_CLUSTERS"
        );
        assert_eq!(
            env.get("REACTOR_ALLOW_ROLE_OVERRIDES"),
            Some(&json!("false")),
            "{id}: REACTOR_ALLOW_ROLE_OVERRIDES"
        );
        let families = env
            .get("REACTOR_ALLOWED_TASK_FAMILIES")
            .map(Value::to_string)
            .unwrap_or_default();
        assert!(
            families.contains("AllowedTaskFamilies"),
            "{id}: REACTOR_ALLOWED_TASK_FAMILIES must name AllowedTaskFamilies: {families}"
        );
        // The values as the function sees them (a parameter by its default) are a valid configuration, and an
        // AWS call gives up before the function times out.
        let resolved = |name: &str| -> Option<String> {
            match env.get(name)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Object(r) => {
                    let target = r.get("Ref")?.as_str()?;
                    match &template["Parameters"][target]["Default"] {
                        Value::Null => Some(format!("{target}-value")),
                        d => Some(d.to_string().trim_matches('"').to_owned()),
                    }
                }
                _ => None,
            }
        };
        let config = reactor_aws::config::Config::from_lookup(resolved)
            .unwrap_or_else(|e| panic!("{id}: its environment is not a valid configuration: {e}"));
        let timeout = property(&template, f, "Timeout")
            .as_u64()
            .expect("a Timeout");
        assert!(
            config.call_timeout.as_secs() < timeout,
            "{id}: REACTOR_CALL_TIMEOUT_MS ({:?}) must end before the function's Timeout ({timeout} s)",
            config.call_timeout
        );
        // An asynchronous invocation that keeps failing ends in a queue, not nowhere.
        let invoke = &f["Properties"]["EventInvokeConfig"];
        assert!(
            invoke["MaximumRetryAttempts"].as_u64().is_some()
                && !invoke["DestinationConfig"]["OnFailure"]["Destination"].is_null(),
            "{id}: EventInvokeConfig needs bounded retries and an OnFailure destination: {invoke}"
        );
    }

    let sources = sources(&template);
    let to = |binary: &str| {
        let id = id_of(binary);
        sources
            .iter()
            .filter(move |s| s.function == id)
            .collect::<Vec<_>>()
    };

    // The classifier hears of our tasks only, and only when they stop.
    let stops = to("classifier")
        .into_iter()
        .filter(|s| s.properties["Pattern"]["source"] == json!(["aws.ecs"]))
        .collect::<Vec<_>>();
    assert_eq!(stops.len(), 1, "one ECS rule targets the classifier");
    let defaults = Intrinsics {
        template: &template,
        parameters: parameters(&template, &[]),
    };
    assert_eq!(
        defaults.eval(&stops[0].properties["Pattern"]),
        json!({
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {
                "lastStatus": ["STOPPED"],
                "startedBy": [{"prefix": format!("{}/", reactor_core::started_by::DEFAULT_NAMESPACE)}],
            },
        }),
        "{}: the pattern must select the tasks the launcher tags with startedBy",
        stops[0].name
    );

    // The scheduler: TTL deletes from the table's stream, retried record by record, bounded, dead-lettered…
    let streams = to("scheduler")
        .into_iter()
        .filter(|s| s.kind == "DynamoDB")
        .collect::<Vec<_>>();
    assert_eq!(streams.len(), 1, "one stream source on the scheduler");
    let stream = &streams[0].properties;
    assert_eq!(
        stream["Stream"],
        json!({"Fn::GetAtt": [table, "StreamArn"]})
    );
    let filters = stream["FilterCriteria"]["Filters"]
        .as_array()
        .expect("FilterCriteria.Filters")
        .iter()
        .map(|f| serde_json::from_str::<Value>(f["Pattern"].as_str().unwrap()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(
        filters,
        [json!({
            "eventName": ["REMOVE"],
            "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
        })],
        "only TTL deletes may invoke the scheduler"
    );
    assert_eq!(
        stream["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(stream["BisectBatchOnFunctionError"], json!(true));
    let retries = stream["MaximumRetryAttempts"].as_i64();
    assert!(
        retries.is_some_and(|n| (0..=10).contains(&n)),
        "stream retries must be bounded (absent or -1 retries a record until it expires, holding up its shard): {retries:?}"
    );
    assert!(
        !stream["DestinationConfig"]["OnFailure"]["Destination"].is_null(),
        "records that still fail must go to an OnFailure destination"
    );
    // …the retry queue, its messages handed back one by one, at a bounded concurrency; every function that can
    // schedule a retry (all three judge a refused launch) knows the queue and may send to it…
    let queues = to("scheduler")
        .into_iter()
        .filter(|s| s.kind == "SQS")
        .collect::<Vec<_>>();
    assert_eq!(queues.len(), 1, "one SQS source on the scheduler");
    let queue = &queues[0].properties;
    assert_eq!(queue["Queue"], json!({"Fn::GetAtt": ["RetryQueue", "Arn"]}));
    // A failed fire fails the invocation (the errors alarm counts it): no partial batch responses.
    assert!(queue["FunctionResponseTypes"].is_null(), "{queue}");
    assert!(
        queue["ScalingConfig"]["MaximumConcurrency"]
            .as_u64()
            .is_some_and(|n| (2..=10).contains(&n)),
        "the retry queue's deliveries need a bounded concurrency: {queue}"
    );
    let retry_queue = &template["Resources"]["RetryQueue"]["Properties"];
    assert!(
        retry_queue["VisibilityTimeout"].as_u64().unwrap_or(30)
            >= 6 * property(&template, functions["scheduler"].1, "Timeout")
                .as_u64()
                .unwrap(),
        "Lambda's guidance: the queue's visibility timeout at least six times the function's timeout"
    );
    assert_eq!(
        template["Globals"]["Function"]["Environment"]["Variables"]["REACTOR_RETRY_QUEUE_URL"],
        json!({"Ref": "RetryQueue"})
    );
    for binary in BINARIES {
        let (id, f) = &functions[binary];
        let sends = f["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| statements(&p["Statement"]))
            .any(|st| {
                actions(st).iter().any(|a| a == "sqs:SendMessage")
                    && st["Resource"] == json!({"Fn::GetAtt": ["RetryQueue", "Arn"]})
            });
        assert!(sends, "{id}: may not send to the retry queue");
    }
    // …and the sweep, every minute, with the plain Scheduled Event the scheduler recognises.
    let sweeps = to("scheduler")
        .into_iter()
        .filter(|s| s.properties["Schedule"] == json!("rate(1 minute)"))
        .collect::<Vec<_>>();
    assert_eq!(
        sweeps.len(),
        1,
        "one rate(1 minute) schedule targets the scheduler"
    );
    for field in ["Input", "InputPath", "InputTransformer"] {
        assert!(
            sweeps[0].properties[field].is_null(),
            "{}: the sweep must send the default Scheduled Event, not {field}",
            sweeps[0].name
        );
    }

    // Permissions: no wildcard actions; RunTask only in the cluster; each function can do what its code does.
    let mut found = Vec::new();
    all_statements(&template, "", &mut found);
    assert!(!found.is_empty(), "no policy statements found");
    // The overrides key's policy only hands the key to the account's IAM policies (the key policy AWS writes
    // by default, `kms:*` for the account root): what may use it is decided by the statements checked below.
    let key_policy = |at: &str| at.starts_with("Resources.OverridesKey.Properties.KeyPolicy");
    let delegations: Vec<&Value> = found
        .iter()
        .filter(|(at, _)| key_policy(at))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(delegations.len(), 1, "{delegations:?}");
    assert_eq!(
        delegations[0]["Principal"]["AWS"]["Fn::Sub"],
        json!("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"),
        "the key policy delegates to the account, to no other principal"
    );
    found.retain(|(at, _)| !key_policy(at));
    for (at, statement) in &found {
        assert!(
            statement.get("NotAction").is_none(),
            "{at}: NotAction grants everything else: {statement}"
        );
        for action in actions(statement) {
            assert!(!action.contains('*'), "{at}: wildcard action {action}");
        }
        if actions(statement).iter().any(|a| a == "ecs:RunTask") {
            let conditions = statement["Condition"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert!(
                conditions.values().any(|c| c.get("ecs:cluster").is_some()),
                "{at}: ecs:RunTask without an ecs:cluster condition: {statement}"
            );
        }
    }
    #[rustfmt::skip]
    let launch = [
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
        "ecs:RunTask", "ecs:TagResource", "ecs:ListTasks", "ecs:DescribeTaskDefinition", "iam:PassRole",
        "sns:Publish", "sqs:SendMessage",
    ];
    let needs: [(&str, Vec<&str>); 3] = [
        (
            "starter",
            [&launch[..], &["kms:GenerateDataKey", "kms:Decrypt"]].concat(),
        ),
        ("classifier", [&launch[..], &["kms:Decrypt"]].concat()),
        (
            "scheduler",
            [
                &launch[..],
                &["dynamodb:Query", "dynamodb:BatchGetItem", "kms:Decrypt"],
            ]
            .concat(),
        ),
    ];
    for (binary, needed) in needs {
        let (id, f) = &functions[binary];
        let granted: BTreeSet<String> = f["Properties"]["Policies"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: Policies"))
            .iter()
            .flat_map(|p| statements(&p["Statement"]))
            .flat_map(actions)
            .collect();
        let missing: Vec<&str> = needed
            .into_iter()
            .filter(|a| !granted.contains(*a))
            .collect();
        assert!(missing.is_empty(), "{id} ({binary}) lacks {missing:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// What the template evaluates to, for given parameters
// ---------------------------------------------------------------------------------------------------------

/// The account and region the template is evaluated in.
const PSEUDO: [(&str, &str); 3] = [
    ("AWS::Partition", "aws"),
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "123456789012"),
];

/// The parameters' defaults with `overrides` applied (a CommaDelimitedList as a JSON list), and the pseudo
/// parameters.
fn parameters(template: &Value, overrides: &[(&str, Value)]) -> BTreeMap<String, Value> {
    let mut parameters: BTreeMap<String, Value> = template["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, p)| {
            let default = match &p["Default"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let value = match p["Type"].as_str() {
                Some("CommaDelimitedList") => json!(default.split(',').collect::<Vec<_>>()),
                _ => json!(default),
            };
            (name.clone(), value)
        })
        .collect();
    for (name, value) in overrides {
        assert!(
            parameters.contains_key(*name),
            "the template has no parameter {name}"
        );
        parameters.insert((*name).to_owned(), value.clone());
    }
    for (name, value) in PSEUDO {
        parameters.insert(name.to_owned(), json!(value));
    }
    parameters
}

/// Evaluates the intrinsic functions the template uses, as CloudFormation would for these parameters: `Fn::If`
/// by its condition, `AWS::NoValue` removed. References to resources (`Ref`, `Fn::GetAtt`, `${Res.Attr}`) are
/// left as they are.
struct Intrinsics<'a> {
    template: &'a Value,
    parameters: BTreeMap<String, Value>,
}

impl Intrinsics<'_> {
    fn condition(&self, name: &str) -> bool {
        self.eval(&self.template["Conditions"][name])
            .as_bool()
            .unwrap_or_else(|| panic!("condition {name} is not a boolean"))
    }

    fn string(&self, value: &Value) -> String {
        match self.eval(value) {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }

    /// `Value::Null` stands for `AWS::NoValue` (the template has no nulls of its own).
    fn eval(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => items
                .iter()
                .map(|v| self.eval(v))
                .filter(|v| !v.is_null())
                .collect(),
            Value::Object(o) => match o.iter().next() {
                Some((function, arg))
                    if o.len() == 1 && (function == "Ref" || function.starts_with("Fn::")) =>
                {
                    self.function(function, arg)
                        .unwrap_or_else(|| value.clone())
                }
                Some((key, arg)) if o.len() == 1 && key == "Condition" && arg.is_string() => {
                    json!(self.condition(arg.as_str().unwrap()))
                }
                _ => Value::Object(
                    o.iter()
                        .map(|(k, v)| (k.clone(), self.eval(v)))
                        .filter(|(_, v)| !v.is_null())
                        .collect(),
                ),
            },
            _ => value.clone(),
        }
    }

    /// The function's value, or None for one left as it is.
    fn function(&self, function: &str, arg: &Value) -> Option<Value> {
        let list =
            |v: &Value| -> Vec<Value> { self.eval(v).as_array().cloned().unwrap_or_default() };
        Some(match function {
            "Ref" if arg == "AWS::NoValue" => Value::Null,
            "Ref" => self.parameters.get(arg.as_str()?)?.clone(),
            "Fn::Not" => json!(!self.eval(&arg[0]).as_bool()?),
            "Fn::Or" => json!(list(arg).iter().any(|c| c == &json!(true))),
            "Fn::Equals" => json!(self.eval(&arg[0]) == self.eval(&arg[1])),
            "Fn::If" => match self.condition(arg[0].as_str()?) {
                true => self.eval(&arg[1]),
                false => self.eval(&arg[2]),
            },
            "Fn::Join" => json!(list(&arg[1])
                .iter()
                .map(|s| self.string(s))
                .collect::<Vec<_>>()
                .join(arg[0].as_str()?)),
            "Fn::Split" => json!(self
                .string(&arg[1])
                .split(arg[0].as_str()?)
                .collect::<Vec<_>>()),
            "Fn::Select" => list(&arg[1])[self.string(&arg[0]).parse::<usize>().ok()?].clone(),
            "Fn::Sub" => {
                let (mut text, vars) = match arg {
                    Value::String(s) => (s.clone(), serde_json::Map::new()),
                    _ => (arg[0].as_str()?.to_owned(), arg[1].as_object()?.clone()),
                };
                for (name, value) in &vars {
                    text = text.replace(&format!("${{{name}}}"), &self.string(value));
                }
                for (name, value) in &self.parameters {
                    text = text.replace(&format!("${{{name}}}"), &self.string(value));
                }
                json!(text)
            }
            _ => return None,
        })
    }
}

/// Whether an IAM resource pattern (`*` for any characters) matches an ARN.
fn iam_matches(pattern: &str, arn: &str) -> bool {
    reactor_core::glob::Glob::new(pattern).matches(arn)
}

#[test]
fn run_task_is_allowed_for_the_listed_families_and_prefixes_in_the_cluster_only() {
    let template = template();
    let functions = functions(&template);
    let wild = |family: &str| format!("arn:*:ecs:*:*:task-definition/{family}:*");
    // AllowedTaskFamilies → the task definitions RunTask may start.
    #[rustfmt::skip]
    let cases: [(&[&str], Vec<String>); 3] = [
        (&["etl"], vec![wild("etl")]),
        (&["etl", "backfill"], vec![wild("etl"), wild("backfill")]),
        (&["reports-*"], vec![wild("reports-*")]),
    ];
    for (families, expected) in cases {
        let ev = Intrinsics {
            template: &template,
            parameters: parameters(
                &template,
                &[
                    ("JobCluster", json!("jobs")),
                    ("AllowedTaskFamilies", json!(families)),
                ],
            ),
        };
        for (binary, (id, f)) in &functions {
            let run_task =
                statements_allowing(&ev.eval(&f["Properties"]["Policies"]), "ecs:RunTask");
            let case = format!("{id} ({binary}), AllowedTaskFamilies {families:?}");
            assert_eq!(run_task.len(), 1, "{case}: one RunTask statement");
            assert_eq!(
                run_task[0]["Resource"],
                json!(expected),
                "{case}: RunTask resources"
            );
            assert_eq!(
                run_task[0]["Condition"],
                json!({"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/jobs"}}),
                "{case}: RunTask only in JobCluster"
            );
        }
    }
}

/// The statements of an evaluated `Policies` list that allow `action`.
fn statements_allowing(policies: &Value, action: &str) -> Vec<Value> {
    policies
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .filter(|s| actions(s).iter().any(|a| a == action))
        .collect()
}

#[test]
fn five_hundred_jobs_need_no_more_of_the_stack_than_one() {
    let template = template();
    // Nothing in the stack is per job: no parameter but the cluster names a job, no rule or permission
    // invokes the starter (ticks come from the schedule group's schedules, through SchedulerRole).
    let job_parameters: Vec<&String> = template["Parameters"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("Job") && *k != "JobCluster")
        .collect();
    assert!(
        job_parameters.is_empty(),
        "per-job parameters: {job_parameters:?}"
    );
    let starter = functions(&template)["starter"].0.clone();
    let rules_to_starter: Vec<String> = sources(&template)
        .into_iter()
        .filter(|s| s.function == starter)
        .map(|s| s.name)
        .collect();
    assert!(
        rules_to_starter.is_empty(),
        "rules invoking the starter: {rules_to_starter:?}"
    );
    assert!(
        resources_of_type(&template, "AWS::Lambda::Permission").is_empty(),
        "a Lambda permission per rule"
    );

    // One family prefix and one role path cover 500 jobs, each with its own family and roles, and nothing
    // else; the policies are the same documents for 1 job as for 500 (they do not mention jobs at all).
    let ev = Intrinsics {
        template: &template,
        parameters: parameters(
            &template,
            &[
                ("JobCluster", json!("jobs")),
                ("AllowedTaskFamilies", json!(["jobs-*"])),
                (
                    "PassRoleArns",
                    json!(["arn:aws:iam::123456789012:role/ecs-jobs/*"]),
                ),
            ],
        ),
    };
    for (binary, (id, f)) in &functions(&template) {
        let policies = ev.eval(&f["Properties"]["Policies"]);
        let allowed = |action: &str, arn: &str| {
            statements_allowing(&policies, action).iter().any(|s| {
                let resources = match &s["Resource"] {
                    Value::Array(list) => list.clone(),
                    one => vec![one.clone()],
                };
                resources
                    .iter()
                    .any(|r| r.as_str().is_some_and(|r| iam_matches(r, arn)))
            })
        };
        for n in 1..=500 {
            let family =
                format!("arn:aws:ecs:us-east-1:123456789012:task-definition/jobs-{n:03}:7");
            assert!(allowed("ecs:RunTask", &family), "{id} ({binary}): {family}");
            let role = format!("arn:aws:iam::123456789012:role/ecs-jobs/jobs-{n:03}-task");
            assert!(allowed("iam:PassRole", &role), "{id} ({binary}): {role}");
        }
        for (action, arn) in [
            (
                "ecs:RunTask",
                "arn:aws:ecs:us-east-1:123456789012:task-definition/payroll:1",
            ),
            (
                "ecs:RunTask",
                "arn:aws:ecs:us-east-1:123456789012:task-definition/job-1:1",
            ),
            ("iam:PassRole", "arn:aws:iam::123456789012:role/admin"),
            (
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/other/ecs-jobs-task",
            ),
        ] {
            assert!(!allowed(action, arn), "{id} ({binary}): {action} on {arn}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The rule-per-job path (docs/examples/rule-per-job.yml): a tick's input
// ---------------------------------------------------------------------------------------------------------

/// What EventBridge does with a JSON InputTemplate: each placeholder becomes its value; a string value in a
/// quoted placeholder ("<time>") is inserted as the string's characters.
/// Two stacks in one account and Region, deployed with two namespaces: each one's rule selects its own tasks
/// only (a task of the other's never reaches its classifier), its functions run in its namespace (their
/// `startedBy`, their metrics), and its alarms, dashboard and outputs are on its own metrics.
#[test]
fn two_stacks_each_select_count_and_chart_only_their_own_tasks() {
    use reactor_core::{AttemptRef, Namespace};
    let template = template();
    let attempt = AttemptRef {
        run_id: "nightly-report-20270101T023000Z".into(),
        attempt: 1,
    };
    let stacks = ["reactor-blue", "reactor-green"];
    for (mine, theirs) in [(stacks[0], stacks[1]), (stacks[1], stacks[0])] {
        let ev = Intrinsics {
            template: &template,
            parameters: parameters(&template, &[("Namespace", json!(mine))]),
        };
        let pattern = sources(&template)
            .into_iter()
            .find(|s| s.properties["Pattern"]["source"] == json!(["aws.ecs"]))
            .map(|s| ev.eval(&s.properties["Pattern"]))
            .expect("the classifier's rule");
        let prefix = pattern["detail"]["startedBy"][0]["prefix"]
            .as_str()
            .expect("a startedBy prefix");
        // EventBridge's prefix matching, on what each stack's launcher writes.
        let own = Namespace::new(mine).unwrap().started_by(&attempt);
        let other = Namespace::new(theirs).unwrap().started_by(&attempt);
        assert!(
            own.starts_with(prefix),
            "{mine}: its rule misses its own task {own}"
        );
        assert!(
            !other.starts_with(prefix),
            "{mine}: its rule selects {theirs}'s task {other}"
        );

        for (binary, (id, function)) in functions(&template) {
            let variables = |v: &Value| v["Variables"].as_object().cloned().unwrap_or_default();
            let mut env = variables(&ev.eval(&template["Globals"]["Function"]["Environment"]));
            env.extend(variables(&ev.eval(&function["Properties"]["Environment"])));
            assert_eq!(
                env.get("REACTOR_NAMESPACE"),
                Some(&json!(mine)),
                "{binary} ({id})"
            );
        }
        for (id, alarm) in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
            let namespace = ev.eval(&alarm["Properties"]["Namespace"]);
            assert!(
                namespace == json!(mine)
                    || namespace.as_str().is_some_and(|n| n.starts_with("AWS/")),
                "{mine}: {id} watches {namespace}"
            );
        }
        let (_, dashboard) = &resources_of_type(&template, "AWS::CloudWatch::Dashboard")[0];
        let body = ev.string(&dashboard["Properties"]["DashboardBody"]);
        assert!(
            body.contains(&format!("[\"{mine}\", ")),
            "{mine}: the dashboard shows other metrics"
        );
        assert!(
            !body.contains(theirs) && !body.contains("\"ecs-reactor\""),
            "{mine}: {body}"
        );
        assert_eq!(
            ev.eval(&template["Outputs"]["Namespace"]["Value"]),
            json!(mine)
        );
    }
}

/// template.yml as CloudFormation deploys it: the SAM transform applied by the pinned translator
/// (tools/sam_transform.py, offline).
fn transformed() -> Value {
    let out = run_tool("python", &["tools/sam_transform.py", "template.yml"]);
    assert!(
        out.status.success(),
        "sam_transform.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the transformed template is JSON")
}

/// Safe deploys: each function's new version takes over its alias `live` gradually (CodeDeploy, `DeploymentType`)
/// and is rolled back when the function's own errors alarm goes off; and everything that invokes a function —
/// the ECS rule, the sweep, the stream mapping, the on-failure destinations, the jobs' schedules — invokes the
/// alias, so no event reaches a version that is not (or no longer) live.
#[test]
fn every_function_deploys_gradually_behind_an_alias_its_callers_invoke() {
    let template = template();
    assert_eq!(template["Globals"]["Function"]["AutoPublishAlias"], "live");
    let kinds = &template["Parameters"]["DeploymentType"];
    assert_eq!(kinds["Default"], "Canary10Percent5Minutes");
    assert!(kinds["AllowedValues"]
        .as_array()
        .unwrap()
        .contains(&json!("AllAtOnce")));
    for (binary, (id, f)) in functions(&template) {
        let preference = &f["Properties"]["DeploymentPreference"];
        assert_eq!(preference["Type"], json!({"Ref": "DeploymentType"}), "{id}");
        // The alarm that rolls it back watches this function's errors.
        let alarms = preference["Alarms"].as_array().expect("rollback alarms");
        assert!(
            alarms.iter().any(|a| {
                let alarm =
                    &template["Resources"][a["Ref"].as_str().unwrap_or_default()]["Properties"];
                alarm["MetricName"] == "Errors"
                    && alarm["Dimensions"]
                        == json!([{"Name": "FunctionName", "Value": {"Ref": id}}])
            }),
            "{binary}: no rollback on its own errors: {alarms:?}"
        );
    }
    // The schedules (jobs apply reads StarterFunctionArn) and their role: the alias.
    assert_eq!(
        template["Outputs"]["StarterFunctionArn"]["Value"],
        json!({"Ref": "StarterFunction.Alias"})
    );
    let role =
        &template["Resources"]["SchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"];
    let invoke = statements(&role["Statement"])
        .into_iter()
        .find(|s| s["Action"] == "lambda:InvokeFunction")
        .expect("the schedules' role invokes the starter");
    assert_eq!(
        invoke["Resource"],
        json!([{"Ref": "StarterFunction.Alias"}, {"Fn::GetAtt": ["StarterFunction", "Arn"]}]),
        "the alias, and the function for schedules written before the alias existed"
    );

    // What SAM generates from that: one alias per function, updated through CodeDeploy, and every caller on it.
    let deployed = transformed();
    let resources = deployed["Resources"].as_object().unwrap();
    let of_type = |kind: &str| {
        resources
            .iter()
            .filter(move |(_, r)| r["Type"] == kind)
            .collect::<Vec<_>>()
    };
    let aliases: BTreeMap<String, String> = of_type("AWS::Lambda::Alias")
        .into_iter()
        .map(|(id, r)| {
            assert_eq!(r["Properties"]["Name"], "live", "{id}");
            assert!(
                r["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"].is_object(),
                "{id}: not updated through CodeDeploy"
            );
            let function = r["Properties"]["FunctionName"]["Ref"]
                .as_str()
                .unwrap()
                .to_owned();
            (function, id.clone())
        })
        .collect();
    assert_eq!(aliases.len(), 3, "{aliases:?}");
    let alias_of = |function: &str| json!({"Ref": aliases[function]});
    let groups = of_type("AWS::CodeDeploy::DeploymentGroup");
    assert_eq!(groups.len(), 3);
    for (id, group) in &groups {
        let p = &group["Properties"];
        assert_eq!(p["AlarmConfiguration"]["Enabled"], true, "{id}");
        assert_eq!(
            p["AutoRollbackConfiguration"]["Events"],
            json!([
                "DEPLOYMENT_FAILURE",
                "DEPLOYMENT_STOP_ON_ALARM",
                "DEPLOYMENT_STOP_ON_REQUEST"
            ]),
            "{id}"
        );
    }
    for (id, rule) in of_type("AWS::Events::Rule") {
        for target in rule["Properties"]["Targets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let function = target["Arn"]["Fn::GetAtt"][0].as_str();
            assert!(
                function.is_none(),
                "{id} invokes {function:?} itself, not its alias"
            );
            let on_alias = aliases.values().any(|a| target["Arn"] == json!({"Ref": a}));
            assert!(on_alias, "{id}: {}", target["Arn"]);
        }
    }
    for (id, mapping) in of_type("AWS::Lambda::EventSourceMapping") {
        assert_eq!(
            mapping["Properties"]["FunctionName"],
            alias_of("SchedulerFunction"),
            "{id}"
        );
    }
    for (id, config) in of_type("AWS::Lambda::EventInvokeConfig") {
        assert_eq!(config["Properties"]["Qualifier"], "live", "{id}");
    }
    for (id, permission) in of_type("AWS::Lambda::Permission") {
        let on_alias = aliases
            .values()
            .any(|a| permission["Properties"]["FunctionName"] == json!({"Ref": a}));
        assert!(
            on_alias,
            "{id}: {}",
            permission["Properties"]["FunctionName"]
        );
    }
}

fn fill(input_template: &str, values: &[(&str, &str)]) -> String {
    let mut text = input_template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("\"<{name}>\""), &json!(value).to_string());
        text = text.replace(&format!("<{name}>"), &json!(value).to_string());
    }
    text
}

#[test]
fn the_rule_per_job_example_sends_a_job_the_starter_accepts() {
    let template = template_at("docs/examples/rule-per-job.yml");
    let rules = resources_of_type(&template, "AWS::Events::Rule");
    assert_eq!(rules.len(), 1, "one schedule rule");
    let (rule, target) = (&rules[0].0, &rules[0].1["Properties"]["Targets"][0]);
    assert_eq!(
        target["Arn"],
        json!({"Ref": "StarterFunctionArn"}),
        "{rule}: targets the stack's starter"
    );
    let transformer = &target["InputTransformer"];
    assert_eq!(
        transformer["InputPathsMap"],
        json!({"time": "$.time", "id": "$.id"}),
        "{rule}: the tick's own time and id go to the starter"
    );
    // EventBridge may invoke the starter for this rule, and only for it.
    assert!(
        resources_of_type(&template, "AWS::Lambda::Permission")
            .iter()
            .any(
                |(_, p)| p["Properties"]["SourceArn"] == json!({"Fn::GetAtt": [rule, "Arn"]})
                    && p["Properties"]["Principal"] == json!("events.amazonaws.com")
                    && p["Properties"]["FunctionName"] == json!({"Ref": "StarterFunctionArn"})
            ),
        "{rule}: no AWS::Lambda::Permission for events.amazonaws.com with this rule as SourceArn"
    );

    // What the starter receives for a tick, with the example job set up with these security groups.
    let render = |security_groups: Value, id: &str, time: &str| -> Value {
        let ev = Intrinsics {
            template: &template,
            parameters: parameters(
                &template,
                &[
                    ("JobCluster", json!("jobs")),
                    ("JobTaskDefinition", json!("report:7")),
                    ("JobSubnets", json!(["subnet-1", "subnet-2"])),
                    ("JobSecurityGroups", security_groups),
                ],
            ),
        };
        let text = fill(
            &ev.string(&transformer["InputTemplate"]),
            &[("id", id), ("time", time)],
        );
        assert!(!text.contains("${"), "{rule}: unresolved ${{…}} in {text}");
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{rule}: the input is not JSON ({e}): {text}"))
    };

    let tick = "2026-11-21T02:30:00Z";
    let sent = render(
        json!(["sg-1"]),
        "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        tick,
    );
    assert_eq!(
        sent,
        json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": tick,
            "detail": {
                "job": "nightly-report",
                "runTask": {
                    "cluster": "jobs", "taskDefinition": "report:7", "launchType": "FARGATE",
                    "networkConfiguration": {"awsvpcConfiguration": {
                        "subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-1"]}},
                },
                "retry": {"maxAttempts": 4},
            },
        }),
        "{rule}: the starter's input"
    );

    // The starter accepts it, and names the run after the tick: the same tick delivered twice (another event
    // id, another invocation, later) is the same run; the next tick is another.
    let first = reactor_core::request::start_request(sent, "request-1", reactor_testkit::utc(tick))
        .expect("the starter accepts the schedule's input");
    let again = reactor_core::request::start_request(
        render(
            json!(["sg-1"]),
            "0d9a3c1e-0000-4000-8000-000000000001",
            tick,
        ),
        "request-2",
        reactor_testkit::utc(tick),
    )
    .unwrap();
    let next = reactor_core::request::start_request(
        render(
            json!(["sg-1"]),
            "7f1e2d3c-0000-4000-8000-000000000002",
            "2026-11-22T02:30:00Z",
        ),
        "request-3",
        reactor_testkit::utc("2026-11-22T02:30:00Z"),
    )
    .unwrap();
    assert_eq!(
        first.run_id, again.run_id,
        "a duplicated tick must name the same run"
    );
    assert_ne!(first.run_id, next.run_id, "the next tick is a new run");

    // Without security groups the list is empty (not [""]), which RunTask accepts.
    let sent = render(json!([""]), "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", tick);
    assert_eq!(
        sent["detail"]["runTask"]["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"],
        json!([])
    );
    reactor_core::request::start_request(sent, "request-4", reactor_testkit::utc(tick))
        .expect("the starter accepts it without security groups");
}

// ---------------------------------------------------------------------------------------------------------
// Security checks and alarms
// ---------------------------------------------------------------------------------------------------------

/// The README's list of checkov suppressions: (check id, logical resource id), from its table.
fn readme_suppressions() -> BTreeSet<(String, String)> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let begin = readme
        .find("<!-- checkov:begin -->")
        .expect("README has the checkov:begin marker");
    let end = readme[begin..]
        .find("<!-- checkov:end -->")
        .expect("README has the checkov:end marker")
        + begin;
    let mut listed = BTreeSet::new();
    for row in readme[begin..end]
        .lines()
        .filter(|l| l.starts_with("| `CKV"))
    {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let check = cells[1]
            .trim_matches('`')
            .split_whitespace()
            .next()
            .unwrap()
            .trim_matches('`');
        for resource in cells[2].split(',') {
            listed.insert((
                check.to_owned(),
                resource.trim().trim_matches('`').to_owned(),
            ));
        }
    }
    listed
}

#[test]
fn checkov_finds_nothing_and_every_suppression_has_its_reason_in_the_template_and_the_readme() {
    let checkov = root().join(".venv-checkov/bin/checkov");
    assert!(
        checkov.exists(),
        "{} not found — run `make venv` (make test does)",
        checkov.display()
    );
    let out = Command::new(&checkov)
        .args([
            "-f",
            "template.yml",
            "--framework",
            "cloudformation",
            "-o",
            "json",
            "--skip-download",
        ])
        .current_dir(root())
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov did not print JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let results = &report["results"];
    let failed: Vec<String> = results["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} ({})", c["check_id"], c["resource"], c["check_name"]))
        .collect();
    assert!(
        failed.is_empty(),
        "checkov findings — fix them, or suppress one with a reason:\n{}",
        failed.join("\n")
    );
    assert!(
        report["summary"]["passed"].as_u64().unwrap_or(0) >= 10,
        "{}",
        report["summary"]
    );

    let mut skipped = BTreeSet::new();
    for check in results["skipped_checks"].as_array().into_iter().flatten() {
        let id = check["check_id"].as_str().unwrap().to_owned();
        let resource = check["resource"]
            .as_str()
            .unwrap()
            .rsplit('.')
            .next()
            .unwrap()
            .to_owned();
        let reason = check["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or_default();
        assert!(
            reason.len() >= 60,
            "{id} on {resource}: a suppression needs its reason written next to it, got {reason:?}"
        );
        skipped.insert((id, resource));
    }
    assert_eq!(
        skipped,
        readme_suppressions(),
        "the README's suppression table (between the checkov markers) must list exactly what template.yml suppresses"
    );
}

#[test]
fn every_failure_path_has_an_alarm_that_notifies() {
    let template = template();
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    let watched = |namespace: &str, metric: &str, dimension: &Value| {
        alarms.iter().any(|(_, a)| {
            let p = &a["Properties"];
            p["Namespace"] == namespace
                && p["MetricName"] == metric
                && p["Dimensions"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| &d["Value"] == dimension))
        })
    };
    for (queue, _) in resources_of_type(&template, "AWS::SQS::Queue") {
        let name = json!({"Fn::GetAtt": [queue, "QueueName"]});
        // A dead-letter queue alarms on its first message; the retry queue (due retries pass through it in
        // seconds) on a message left waiting.
        let metric = if queue == "RetryQueue" {
            "ApproximateAgeOfOldestMessage"
        } else {
            "ApproximateNumberOfMessagesVisible"
        };
        assert!(
            watched("AWS/SQS", metric, &name),
            "no alarm on {metric} of {queue}"
        );
    }
    for (function, _) in functions(&template).into_values() {
        for metric in ["Errors", "Throttles"] {
            assert!(
                watched("AWS/Lambda", metric, &json!({"Ref": function})),
                "no {metric} alarm on {function}"
            );
        }
    }
    // Runs that failed or timed out, and retries fired late: alarms on the functions' metrics, all jobs.
    for (metric, threshold) in [
        ("RunsFailed", 1.0),
        ("RunsTimedOut", 1.0),
        ("RunsReconciled", 1.0),
        ("TicksMissed", 1.0),
        ("RetryLatenessSeconds", 120.0),
    ] {
        assert!(
            alarms.iter().any(|(_, a)| {
                let p = &a["Properties"];
                p["Namespace"] == json!({"Ref": "Namespace"})
                    && p["MetricName"] == metric
                    && p.get("Dimensions").is_none()
                    && p["Threshold"].as_f64() == Some(threshold)
            }),
            "no alarm on {metric} (all jobs) at {threshold}"
        );
    }
    for (id, alarm) in &alarms {
        assert_eq!(
            alarm["Properties"]["AlarmActions"],
            json!([{"Ref": "AlarmTopic"}]),
            "{id} notifies nobody"
        );
        assert_eq!(
            alarm["Properties"]["TreatMissingData"], "notBreaching",
            "{id}"
        );
    }
    assert!(
        template["Outputs"]["AlarmTopicArn"].is_object(),
        "the operator is told where alarms go"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Metrics: the dashboard and the alarms name what the code emits
// ---------------------------------------------------------------------------------------------------------

/// Metric name → the dimension sets the code emits it under, from one value of each `Metric` variant.
fn emitted() -> BTreeMap<String, BTreeSet<Vec<String>>> {
    let every = [
        Metric::RunStarted,
        Metric::RunSucceeded,
        Metric::RunFailed,
        Metric::RunCancelled,
        Metric::RunSkipped,
        Metric::AttemptLaunched,
        Metric::Retry {
            class: "spot-interruption".into(),
        },
        Metric::RetryLateness { seconds: 1.0 },
        Metric::RunTimedOut,
        Metric::MemoryEscalated,
        Metric::RunReconciled,
        Metric::LaunchDeferred,
        Metric::RequestConflict,
        Metric::TickMissed,
    ];
    let map: BTreeMap<String, BTreeSet<Vec<String>>> = every
        .iter()
        .map(|m| {
            let sets = metrics::emf_line(reactor_core::started_by::DEFAULT_NAMESPACE, "j", m, 0)
                ["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|set| {
                    let mut keys: Vec<String> = set
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k.as_str().unwrap().to_owned())
                        .collect();
                    keys.sort();
                    keys
                })
                .collect();
            (m.name().to_owned(), sets)
        })
        .collect();
    assert_eq!(
        map.keys().cloned().collect::<BTreeSet<_>>(),
        metrics::METRIC_NAMES
            .iter()
            .map(|n| n.to_string())
            .collect::<BTreeSet<_>>(),
        "every metric name, one variant each"
    );
    map
}

/// The (metric name, dimension names) a SEARCH expression asks for: `SEARCH('{ns,dim…} MetricName="X"', …)`.
fn search_terms(expression: &str) -> (String, String, Vec<String>) {
    let schema = expression
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .unwrap_or_else(|| panic!("{expression}: no {{namespace,dimensions}} schema"))
        .0;
    let mut parts = schema
        .split(',')
        .map(|p| p.trim().trim_matches('"').to_owned());
    let namespace = parts.next().unwrap();
    let mut dimensions: Vec<String> = parts.collect();
    dimensions.sort();
    let name = expression
        .split_once("MetricName=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .unwrap_or_else(|| panic!("{expression}: no MetricName=\"…\""))
        .0
        .to_owned();
    (namespace, name, dimensions)
}

#[test]
fn the_dashboard_names_only_what_the_functions_emit() {
    let template = template();
    let emitted = emitted();
    let dashboards = resources_of_type(&template, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard");
    let (_, dashboard) = &dashboards[0];
    let source = &dashboard["Properties"]["DashboardBody"];
    assert!(
        source["Fn::Sub"].is_string(),
        "DashboardBody is one !Sub string"
    );
    let ev = Intrinsics {
        template: &template,
        parameters: parameters(&template, &[]),
    };
    let text = ev.string(source);
    // What !Sub leaves are references to the stack's resources, which CloudFormation fills in.
    for reference in text
        .split("${")
        .skip(1)
        .map(|r| r.split('}').next().unwrap())
    {
        let resource = reference.split('.').next().unwrap();
        assert!(
            template["Resources"][resource].is_object(),
            "the dashboard refers to ${{{reference}}}, which is no resource of the template"
        );
    }
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON ({e}):\n{text}"));

    let mut seen = BTreeSet::new();
    let mut lambda = BTreeSet::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        let properties = &widget["properties"];
        for key in ["x", "y", "width", "height"] {
            assert!(widget[key].is_u64(), "{widget}: {key}");
        }
        if widget["type"] != "metric" {
            continue;
        }
        assert_eq!(
            properties["region"], "us-east-1",
            "{widget}: region is ${{AWS::Region}}"
        );
        for entry in properties["metrics"].as_array().expect("metrics") {
            let entry = entry.as_array().expect("each metric is an array");
            let (namespace, name, dimensions) = match &entry[0] {
                Value::Object(o) => search_terms(o["expression"].as_str().expect("an expression")),
                Value::String(namespace) => {
                    let plain: Vec<&str> = entry[1..].iter().map_while(Value::as_str).collect();
                    let mut dimensions: Vec<String> = plain[1..]
                        .iter()
                        .step_by(2)
                        .map(|d| d.to_string())
                        .collect();
                    dimensions.sort();
                    if namespace == "AWS/Lambda" {
                        lambda.insert((plain[0].to_owned(), plain[2].to_owned()));
                    }
                    (namespace.clone(), plain[0].to_owned(), dimensions)
                }
                other => panic!("{other}: neither a namespace nor an expression"),
            };
            if namespace == "AWS/Lambda" {
                continue;
            }
            assert_eq!(
                namespace,
                reactor_core::started_by::DEFAULT_NAMESPACE,
                "{entry:?}"
            );
            let sets = emitted.get(&name).unwrap_or_else(|| {
                panic!("the dashboard shows {name}, which the code never emits")
            });
            assert!(
                sets.contains(&dimensions),
                "the dashboard shows {name} by {dimensions:?}; the code emits it by {sets:?} only"
            );
            seen.insert((name, dimensions));
        }
    }
    let none: Vec<String> = vec![];
    for wanted in [
        ("RunsStarted", none.clone()),
        ("RunsSucceeded", none.clone()),
        ("RunsFailed", none.clone()),
        ("RunsFailed", vec!["job".to_owned()]),
        ("Retries", vec!["class".to_owned()]),
        ("RetryLatenessSeconds", none.clone()),
    ] {
        assert!(
            seen.contains(&(wanted.0.to_owned(), wanted.1.clone())),
            "the dashboard does not show {wanted:?}"
        );
    }
    for (function, _) in functions(&template).into_values() {
        for metric in ["Errors", "Throttles"] {
            assert!(
                lambda.contains(&(metric.to_owned(), format!("${{{function}}}"))),
                "the dashboard does not show {function}'s {metric}"
            );
        }
    }

    // The alarms on the functions' metrics, likewise.
    for (id, alarm) in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        if p["Namespace"] != json!({"Ref": "Namespace"}) {
            continue;
        }
        let name = p["MetricName"].as_str().unwrap();
        let mut dimensions: Vec<String> = p["Dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["Name"].as_str().unwrap().to_owned())
            .collect();
        dimensions.sort();
        assert!(
            emitted
                .get(name)
                .is_some_and(|sets| sets.contains(&dimensions)),
            "{id} watches {name} by {dimensions:?}, which the code does not emit"
        );
    }

    // And the README's table lists exactly these metrics.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- metrics:begin -->")
        .expect("README has the metrics:begin marker");
    let stop = readme
        .find("<!-- metrics:end -->")
        .expect("README has the metrics:end marker");
    let listed: Vec<&str> = readme[start..stop]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split('|').nth(1).unwrap().trim().trim_matches('`'))
        .collect();
    assert_eq!(
        listed,
        metrics::METRIC_NAMES,
        "README's metrics table (between the metrics markers)"
    );
}
