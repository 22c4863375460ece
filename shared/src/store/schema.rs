//! Creating the table (used by `inflowctl bootstrap` and the tests; SAM creates it in AWS).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::{GSI1, GSI1PK, GSI1SK, PK, SK, TTL};
use crate::error::Error;

fn build_err(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

fn attr(name: &str) -> Result<AttributeDefinition, Error> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_err)
}

fn key_el(name: &str, kind: KeyType) -> Result<KeySchemaElement, Error> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(build_err)
}

/// Creates the table with its index and TTL; does nothing if it already exists.
pub async fn ensure_table(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<bool, Error> {
    if ddb.describe_table().table_name(table).send().await.is_ok() {
        return Ok(false);
    }
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key_el(GSI1PK, KeyType::Hash)?)
        .key_schema(key_el(GSI1SK, KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(build_err)?;
    ddb.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK)?)
        .attribute_definitions(attr(SK)?)
        .attribute_definitions(attr(GSI1PK)?)
        .attribute_definitions(attr(GSI1SK)?)
        .key_schema(key_el(PK, KeyType::Hash)?)
        .key_schema(key_el(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await?;
    ddb.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name(TTL).enabled(true).build().map_err(build_err)?,
        )
        .send()
        .await?;
    Ok(true)
}
