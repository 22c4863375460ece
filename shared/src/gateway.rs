//! API Gateway's event, made safe for `lambda_http` before it becomes a `Request`.
//!
//! lambda_http (1.3) builds the request's URI from the event's host, `rawPath` and
//! `rawQueryString` and `expect`s it to parse; it also `expect`s a base64 body to decode. API
//! Gateway passes a query as the client sent it, so a raw `"`, `<`, `>` or space (curl sends
//! them as typed) panicked the function before any of our code ran: with `panic = "abort"`, a
//! 5xx and a cold start. Here every HTTP function's event is checked first: what cannot be part
//! of a URI is percent-encoded, an undecodable body or an unusable `Host` is dropped, and the
//! request is marked ([`MALFORMED`]) so that the pipeline answers 400 in the endpoint's family
//! shape, naming what was wrong (`crate::http`). `rawPath` is only encoded, not marked: API
//! Gateway hands it over percent-decoded (a `%20` arrives as a space), and the handlers read the
//! path parameters, which it decodes anyway.

use std::future::Future;

use lambda_http::{request::LambdaRequest, Body, Request, Response};
use lambda_runtime::{LambdaEvent, Service};
use serde_json::Value;

/// The header a checked request carries when the event could not become a request as sent;
/// its value names the part (`query`, `body`, `headers`). A client's own is dropped.
pub const MALFORMED: &str = "x-inflow-malformed";

/// Runs an HTTP function: every event checked ([`check`]), then lambda_http's conversion, the
/// handler, and lambda_http's response mapping.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Request) -> Fut + Clone,
    Fut: Future<Output = Response<Body>> + Send,
{
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| {
            let handler = handler.clone();
            async move { answer(handler, event).await }
        },
    ))
    .await
}

/// One event through the check, lambda_http's conversion, the handler and lambda_http's
/// response mapping (the answer is what API Gateway reads, as the runtime serializes it).
pub async fn answer<F, Fut>(
    handler: F,
    event: LambdaEvent<Value>,
) -> Result<impl serde::Serialize, lambda_runtime::Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    let LambdaEvent {
        mut payload,
        context,
    } = event;
    check(&mut payload);
    let request: LambdaRequest = serde_json::from_value(payload)?;
    let service = lambda_http::service_fn(|req: Request| {
        let fut = handler(req);
        async move { Ok::<_, std::convert::Infallible>(fut.await) }
    });
    let mut adapter = lambda_http::Adapter::from(service);
    Ok(adapter.call(LambdaEvent::new(request, context)).await?)
}

/// Makes a raw API Gateway v2 event safe to convert, marking what had to change.
pub fn check(event: &mut Value) {
    let mut malformed: Vec<&str> = Vec::new();
    let Some(fields) = event.as_object_mut() else {
        return;
    };
    if let Some(Value::String(raw)) = fields.get_mut("rawPath") {
        if let Some(encoded) = encode_for_uri(raw) {
            *raw = encoded;
        }
    }
    if let Some(Value::String(raw)) = fields.get_mut("rawQueryString") {
        if let Some(encoded) = encode_for_uri(raw) {
            *raw = encoded;
            malformed.push("query");
        }
    }
    if fields.get("isBase64Encoded") == Some(&Value::Bool(true)) {
        use base64::Engine;
        let decodes = match fields.get("body") {
            Some(Value::String(body)) => base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_ok(),
            _ => true,
        };
        if !decodes {
            fields.insert("body".into(), Value::Null);
            fields.insert("isBase64Encoded".into(), Value::Bool(false));
            malformed.push("body");
        }
    }
    if let Some(Value::Object(headers)) = fields.get_mut("headers") {
        headers.retain(|name, _| !name.eq_ignore_ascii_case(MALFORMED));
        let before = headers.len();
        headers.retain(|name, value| {
            http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && value
                    .as_str()
                    .is_some_and(|v| http::HeaderValue::from_str(v).is_ok())
        });
        if headers.len() != before {
            malformed.push("headers");
        }
        // The URI is built from these two: an unusable one is dropped (the request's domain
        // name stands in for the host), not a reason to refuse the request.
        headers.retain(|name, value| match name.to_ascii_lowercase().as_str() {
            "host" => value.as_str().is_some_and(usable_host),
            "x-forwarded-proto" => matches!(value.as_str(), Some("http" | "https")),
            _ => true,
        });
        if !malformed.is_empty() {
            headers.insert(MALFORMED.into(), Value::String(malformed.join(",")));
        }
    }
    // Without a Host header lambda_http builds the URI from the request context's domain name
    // (API Gateway's own; the local gateway's comes from the client's Host): the same rule.
    if let Some(Value::Object(context)) = fields.get_mut("requestContext") {
        let unusable = context
            .get("domainName")
            .and_then(Value::as_str)
            .is_some_and(|d| !usable_host(d));
        if unusable {
            context.remove("domainName");
        }
    }
}

/// A host lambda_http can build its URI from: it parses `https://{host}{path}` as a URL and
/// `unwrap`s the result, then the URL as an `http::Uri` and `expect`s that, so a port over
/// 65535 or an IPv4 address with an octet over 255 (both only characters a host may hold)
/// panicked the function before our code ran.
fn usable_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        && url::Url::parse(&format!("https://{host}/"))
            .is_ok_and(|url| url.as_str().parse::<http::Uri>().is_ok())
}

/// `raw` with every byte a URI path or query cannot hold percent-encoded (a `%` that starts no
/// escape included), or `None` when it can be used as it is.
fn encode_for_uri(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let is_escape = |i: usize| {
        bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    let allowed = |i: usize, b: u8| match b {
        b'%' => is_escape(i),
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => true,
        b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+'
        | b',' | b';' | b'=' | b':' | b'@' | b'/' | b'?' => true,
        _ => false,
    };
    if bytes.iter().enumerate().all(|(i, b)| allowed(i, *b)) {
        return None;
    }
    let mut out = String::with_capacity(raw.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if allowed(i, *b) {
            out.push(*b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_a_uri_cannot_hold_is_encoded() {
        assert_eq!(encode_for_uri("a=1&b=two%20x"), None);
        assert_eq!(
            encode_for_uri("q=\"x\" y<z>").as_deref(),
            Some("q=%22x%22%20y%3Cz%3E")
        );
        assert_eq!(
            encode_for_uri("a=%zz&b=%4").as_deref(),
            Some("a=%25zz&b=%254")
        );
        assert_eq!(encode_for_uri("é").as_deref(), Some("%C3%A9"));
        assert_eq!(encode_for_uri("/v1/a b").as_deref(), Some("/v1/a%20b"));
    }

    #[test]
    fn events_are_marked_with_what_was_wrong() {
        let mut event = json!({
            "rawPath": "/v1/assignments/asgn 1",
            "rawQueryString": "x=\"1\"",
            "headers": {"host": "bad host", "x-inflow-malformed": "forged", "ok": "yes"},
            "body": "not base64!",
            "isBase64Encoded": true,
        });
        check(&mut event);
        assert_eq!(event["rawQueryString"], "x=%221%22");
        assert_eq!(
            event["rawPath"], "/v1/assignments/asgn%201",
            "encoded, not marked"
        );
        assert_eq!(event["body"], Value::Null);
        assert_eq!(event["headers"][MALFORMED], "query,body");
        assert_eq!(event["headers"]["ok"], "yes");
        assert!(event["headers"].get("host").is_none());
    }

    /// A v2 event of a GET with these headers and this request context's domain name.
    fn event_with_host(host: &str) -> Value {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/v1/organization",
            "rawQueryString": "", "headers": {"host": host},
            "requestContext": {"http": {"method": "GET", "path": "/v1/organization",
                "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
                "domainName": host, "requestId": "r", "routeKey": "$default",
                "stage": "$default", "time": "07/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
                "accountId": "123456789012", "apiId": "api"},
            "isBase64Encoded": false
        })
    }

    fn converts(event: Value) -> bool {
        std::panic::catch_unwind(|| {
            let request: lambda_http::request::LambdaRequest =
                serde_json::from_value(event).unwrap();
            lambda_http::Request::from(request)
        })
        .is_ok()
    }

    #[test]
    fn hosts_lambda_http_cannot_parse_are_dropped() {
        for bad in [
            "127.0.0.1:99999",
            "256.1.1.1",
            "1.2.3.999:80",
            "[::1",
            "[zz::1]",
        ] {
            assert!(
                !converts(event_with_host(bad)),
                "lambda_http panics on {bad}"
            );
            let mut event = event_with_host(bad);
            check(&mut event);
            assert!(event["headers"].get("host").is_none(), "{bad}");
            assert!(event["requestContext"].get("domainName").is_none(), "{bad}");
            assert!(converts(event), "{bad}, checked");
        }
        for good in [
            "api.example.com",
            "127.0.0.1:9000",
            "[::1]:9000",
            "localhost",
        ] {
            assert!(usable_host(good), "{good}");
            let mut event = event_with_host(good);
            check(&mut event);
            assert_eq!(event["headers"]["host"], good);
        }
    }

    #[test]
    fn a_sound_event_is_left_alone() {
        let mut event = json!({
            "rawPath": "/v1/flows/assign",
            "rawQueryString": "",
            "headers": {"host": "api.example.com", "content-type": "application/json"},
            "body": "e30=",
            "isBase64Encoded": true,
        });
        let before = event.clone();
        check(&mut event);
        assert_eq!(event, before);
    }
}
