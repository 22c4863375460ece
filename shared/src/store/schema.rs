//! Creating the table (used by `inflowctl bootstrap` and the tests; SAM creates it in AWS).

use super::Table;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

use super::transact::build_err;
use super::{GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, GSI3, GSI3PK, GSI3SK, PK, SK, TTL};
use crate::error::Error;

fn attr(name: &str) -> Result<AttributeDefinition, Error> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_err)
}

fn key_el(name: &str, kind: KeyType) -> Result<KeySchemaElement, Error> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_err)
}

/// The stream the relay reads: new and old images, so it can tell the jobs a write made from
/// the ones an item carries along (`store::outbox`).
fn stream() -> Result<StreamSpecification, Error> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .map_err(build_err)
}

/// Creates the table with its indexes, stream and TTL; for a table that exists, only turns
/// its stream on if it is off (a table made before the relay existed).
pub async fn ensure_table(table: &Table) -> Result<bool, Error> {
    if let Ok(found) = table
        .ddb
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
    {
        let streaming = found
            .table
            .and_then(|t| t.stream_specification)
            .is_some_and(|s| s.stream_enabled);
        if !streaming {
            table
                .ddb
                .update_table()
                .table_name(&table.name)
                .stream_specification(stream()?)
                .send()
                .await?;
        }
        return Ok(false);
    }
    let index = |name: &str, pk: &str, sk: &str| -> Result<GlobalSecondaryIndex, Error> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key_el(pk, KeyType::Hash)?)
            .key_schema(key_el(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_err)
    };
    table
        .ddb
        .create_table()
        .table_name(&table.name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK)?)
        .attribute_definitions(attr(SK)?)
        .attribute_definitions(attr(GSI1PK)?)
        .attribute_definitions(attr(GSI1SK)?)
        .attribute_definitions(attr(GSI2PK)?)
        .attribute_definitions(attr(GSI2SK)?)
        .attribute_definitions(attr(GSI3PK)?)
        .attribute_definitions(attr(GSI3SK)?)
        .key_schema(key_el(PK, KeyType::Hash)?)
        .key_schema(key_el(SK, KeyType::Range)?)
        .global_secondary_indexes(index(GSI1, GSI1PK, GSI1SK)?)
        .global_secondary_indexes(index(GSI2, GSI2PK, GSI2SK)?)
        .global_secondary_indexes(index(GSI3, GSI3PK, GSI3SK)?)
        .stream_specification(stream()?)
        .send()
        .await?;
    table
        .ddb
        .update_time_to_live()
        .table_name(&table.name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL)
                .enabled(true)
                .build()
                .map_err(build_err)?,
        )
        .send()
        .await?;
    Ok(true)
}
