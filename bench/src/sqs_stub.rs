//! A constant-time stand-in for SQS SendMessage / SendMessageBatch (awsJson 1.0) on loopback,
//! used only where the emulator would distort a measurement: moto's SQS slows down linearly
//! with the queue's depth (SendMessageBatch ~10 ms on an empty queue, over a second at 2,000
//! messages), so an import of 5,000 addresses would time the emulator, not the import.

use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Starts the stub; returns its endpoint URL.
pub async fn start() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket));
        }
    });
    Ok(url)
}

async fn serve(mut socket: TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut sent = 0u64;
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        let length: usize = header("content-length:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Value =
            serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
        buf.drain(..head_end + length);
        let mut id = || {
            sent += 1;
            format!("00000000-0000-4000-8000-{sent:012}")
        };
        let reply = if header("x-amz-target:").is_some_and(|t| t.ends_with(".sendmessagebatch")) {
            let entries = body["Entries"].as_array().cloned().unwrap_or_default();
            let ok: Vec<Value> = entries
                .iter()
                .map(|e| json!({"Id": e["Id"], "MessageId": id(), "MD5OfMessageBody": ""}))
                .collect();
            json!({"Successful": ok, "Failed": []})
        } else {
            json!({"MessageId": id(), "MD5OfMessageBody": ""})
        };
        let text = reply.to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}
