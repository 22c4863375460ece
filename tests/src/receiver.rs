//! A real HTTP receiver on loopback for webhook tests: answers with scripted statuses and
//! keeps every request it got.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// One scripted answer: a status and extra headers.
pub type Answer = (u16, Vec<(&'static str, String)>);

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    then: Arc<Mutex<u16>>,
    /// How long each answer takes.
    delay: std::time::Duration,
    /// Requests being answered now, and the most at once.
    open: Arc<Mutex<(usize, usize)>>,
}

impl Receiver {
    /// Answers `script` in order, then `then` for ever after.
    pub async fn start(script: Vec<Answer>, then: u16) -> Receiver {
        Self::start_slow(script, then, std::time::Duration::ZERO).await
    }

    /// [`Receiver::start`], taking `delay` over each answer.
    pub async fn start_slow(
        script: Vec<Answer>,
        then: u16,
        delay: std::time::Duration,
    ) -> Receiver {
        Self::start_slow_at("127.0.0.1", script, then, delay).await
    }

    /// [`Receiver::start_slow`] on another loopback address (`127.0.0.2`, …: another host).
    pub async fn start_slow_at(
        ip: &str,
        script: Vec<Answer>,
        then: u16,
        delay: std::time::Duration,
    ) -> Receiver {
        let listener = TcpListener::bind(format!("{ip}:0"))
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            received: Arc::default(),
            script: Arc::new(Mutex::new(script.into())),
            then: Arc::new(Mutex::new(then)),
            delay,
            open: Arc::default(),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let serving = serving.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    serving.received.lock().unwrap().push(request);
                    {
                        let mut open = serving.open.lock().unwrap();
                        open.0 += 1;
                        open.1 = open.1.max(open.0);
                    }
                    tokio::time::sleep(serving.delay).await;
                    serving.open.lock().unwrap().0 -= 1;
                    let (status, headers) = serving
                        .script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or_else(|| (*serving.then.lock().unwrap(), vec![]));
                    let extra: String = headers
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}\r\n"))
                        .collect();
                    let response = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n{extra}\r\n");
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        receiver
    }

    /// The most requests it was answering at once.
    pub fn peak(&self) -> usize {
        self.open.lock().unwrap().1
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// From now on, answer `status`.
    pub fn answer(&self, status: u16) {
        self.script.lock().unwrap().clear();
        *self.then.lock().unwrap() = status;
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[header_end..(header_end + length).min(buf.len())])
        .into_owned();
    Some(Received { headers, body })
}
