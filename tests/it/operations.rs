//! What an operator relies on in template.yaml (docs/operations.md, "Logs, metrics and alarms"):
//! API Gateway's JSON access log in a log group with retention, and an alarm on the age of the
//! oldest job of each work queue.

use inflow_tests::template::{named, resource};

#[test]
fn api_gateway_writes_a_json_access_log_to_a_group_kept_as_long_as_the_functions_logs() {
    let settings = &resource("HttpApi")["Properties"]["AccessLogSettings"];
    let group = named(&settings["DestinationArn"]).expect("a destination");
    let format: serde_json::Value =
        serde_json::from_str(settings["Format"].as_str().expect("a format")).expect("JSON lines");
    for field in [
        "requestId",
        "ip",
        "routeKey",
        "status",
        "latency",
        "integrationError",
    ] {
        assert!(format.get(field).is_some(), "the access log lacks {field}");
    }
    let log_group = resource(&group);
    assert_eq!(log_group["Type"].as_str(), Some("AWS::Logs::LogGroup"));
    assert_eq!(
        named(&log_group["Properties"]["RetentionInDays"]).as_deref(),
        Some("LogRetentionDays")
    );
}

#[test]
fn each_work_queue_has_an_alarm_on_its_oldest_job() {
    for (alarm, queue) in [
        ("WebhookQueueAgeAlarm", "WebhookQueue"),
        ("EmailQueueAgeAlarm", "EmailQueue"),
    ] {
        let props = &resource(alarm)["Properties"];
        assert_eq!(
            props["MetricName"].as_str(),
            Some("ApproximateAgeOfOldestMessage"),
            "{alarm}"
        );
        assert_eq!(
            named(&props["Dimensions"][0]["Value"]).as_deref(),
            Some(queue),
            "{alarm}"
        );
        assert_eq!(
            named(&props["AlarmActions"][0]).as_deref(),
            Some("AlarmTopic")
        );
    }
}
