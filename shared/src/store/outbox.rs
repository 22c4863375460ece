//! The outbox: the jobs a write causes, carried by the item it changes, in the same write.
//!
//! Two attributes hold them: `outbox_id` (new for every write that causes jobs) and
//! `outbox_jobs` (the jobs, as JSON). A write that causes no jobs leaves them as they are, so
//! the item carries the last jobs along; the relay therefore takes a stream record's jobs only
//! when its new image's `outbox_id` differs from its old image's. The relay's event source
//! filter passes only records whose new image has an `outbox_id` (template.yaml).

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use super::{s, Item};
use crate::{error::Error, jobs::Outbox};

pub const ID: &str = "outbox_id";
pub const JOBS: &str = "outbox_jobs";

/// The clause an UpdateItem adds to its `SET` to write an outbox; its values are [`values`].
pub const SET: &str = "outbox_id = :outbox_id, outbox_jobs = :outbox_jobs";

/// The expression values of [`SET`].
pub fn values(outbox: &Outbox) -> Result<[(&'static str, AttributeValue); 2], Error> {
    Ok([
        (":outbox_id", s(&outbox.id)),
        (":outbox_jobs", s(jobs_json(outbox)?)),
    ])
}

/// Adds an outbox to an item about to be put.
pub fn put_into(item: &mut Item, outbox: &Outbox) -> Result<(), Error> {
    item.insert(ID.into(), s(&outbox.id));
    item.insert(JOBS.into(), s(jobs_json(outbox)?));
    Ok(())
}

fn jobs_json(outbox: &Outbox) -> Result<String, Error> {
    serde_json::to_string(&outbox.jobs).map_err(|e| Error::internal_from("outbox", e))
}

/// An item image from the table's stream.
pub type Image = serde_dynamo::Item;

/// The outbox a change wrote: the new image's, unless the old image carried the same one
/// (a later write that caused no jobs). `Err` for an outbox that cannot be read.
pub fn written(new: &Image, old: &Image) -> Result<Option<Outbox>, Error> {
    let Some(id) = string(new, ID) else {
        return Ok(None);
    };
    if string(old, ID) == Some(id) {
        return Ok(None);
    }
    let jobs =
        string(new, JOBS).ok_or_else(|| Error::internal(format!("outbox {id} has no jobs")))?;
    let jobs = serde_json::from_str(jobs)
        .map_err(|e| Error::internal_from(format!("outbox {id} is unreadable"), e))?;
    Ok(Some(Outbox {
        id: id.to_owned(),
        jobs,
    }))
}

fn string<'a>(image: &'a Image, name: &str) -> Option<&'a str> {
    match image.get(name) {
        Some(serde_dynamo::AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// A stream image as a domain record.
pub fn decode<T: DeserializeOwned>(image: &Image) -> Result<T, Error> {
    Ok(serde_dynamo::from_item(image.clone())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{EventKind, EventNote};

    fn image(outbox: Option<&Outbox>) -> Image {
        let mut item = Item::from([("PK".to_string(), s("ORG#o"))]);
        if let Some(outbox) = outbox {
            put_into(&mut item, outbox).unwrap();
        }
        item.into()
    }

    #[test]
    fn only_a_new_outbox_is_written() {
        let now = chrono::Utc::now();
        let first = Outbox::event(EventNote::new(EventKind::FlowAssigned, "o", "r", now));
        let second = Outbox::event(EventNote::new(EventKind::FlowStarted, "o", "r", now));
        assert_eq!(
            written(&image(Some(&first)), &image(None)).unwrap(),
            Some(first.clone())
        );
        assert_eq!(
            written(&image(Some(&second)), &image(Some(&first))).unwrap(),
            Some(second)
        );
        assert_eq!(
            written(&image(Some(&first)), &image(Some(&first))).unwrap(),
            None
        );
        assert_eq!(written(&image(None), &image(Some(&first))).unwrap(), None);
    }

    #[test]
    fn an_unreadable_outbox_is_an_error() {
        let mut item = Item::from([(ID.to_string(), s("obx_1"))]);
        assert!(written(&item.clone().into(), &image(None)).is_err());
        item.insert(JOBS.into(), s("[{\"nope\":1}]"));
        assert!(written(&item.into(), &image(None)).is_err());
    }
}
