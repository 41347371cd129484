//! The attempts table's definition, for local AWS (demo, tests, bench). template.yml declares the same table for
//! real deployments; a test compares the two so they cannot drift apart.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use reactor_aws::aws_error::AwsError;
use reactor_aws::store::StoreError;

/// One global secondary index: name, partition key, sort key (name and whether it is a number), projection.
pub struct IndexDef {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: Option<(&'static str, bool)>,
    pub keys_only: bool,
}

/// The indexes, one per on-call question (see `reactor_aws::records`).
pub const INDEXES: &[IndexDef] = &[
    IndexDef {
        name: "byJob",
        partition_key: "byJobPk",
        sort_key: Some(("byJobSk", false)),
        keys_only: true,
    },
    IndexDef {
        name: "byStatus",
        partition_key: "byStatusPk",
        sort_key: Some(("byStatusSk", false)),
        keys_only: true,
    },
    IndexDef {
        name: "byCreated",
        partition_key: "byCreatedPk",
        sort_key: Some(("byCreatedSk", false)),
        keys_only: true,
    },
    IndexDef {
        name: "byTask",
        partition_key: "taskArn",
        sort_key: None,
        keys_only: true,
    },
    IndexDef {
        name: "byDue",
        partition_key: "dueShard",
        sort_key: Some(("dueAt", true)),
        keys_only: false,
    },
];

/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "ttl";

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    build(
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build(),
    )
}

fn attribute(name: &str, number: bool) -> Result<AttributeDefinition, StoreError> {
    let kind = if number {
        ScalarAttributeType::N
    } else {
        ScalarAttributeType::S
    };
    build(
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build(),
    )
}

/// Creates the table (on-demand, stream with both images, TTL on `ttl`) as template.yml declares it.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(attribute("pk", false)?)
        .attribute_definitions(attribute("sk", false)?)
        .stream_specification(build(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build(),
        )?);
    for index in INDEXES {
        request = request.attribute_definitions(attribute(index.partition_key, false)?);
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(index.name)
            .key_schema(key(index.partition_key, KeyType::Hash)?);
        if let Some((sort, number)) = index.sort_key {
            request = request.attribute_definitions(attribute(sort, number)?);
            gsi = gsi.key_schema(key(sort, KeyType::Range)?);
        }
        let projection = if index.keys_only {
            ProjectionType::KeysOnly
        } else {
            ProjectionType::All
        };
        gsi = gsi.projection(Projection::builder().projection_type(projection).build());
        request = request.global_secondary_indexes(build(gsi.build())?);
    }
    request.send().await.map_err(service)?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(build(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build(),
        )?)
        .send()
        .await
        .map_err(service)?;
    Ok(())
}

fn build<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Service(format!("request could not be built: {e}")))
}

fn service<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Aws(AwsError::from_sdk(e))
}
