//! A network partition between one process and a server, on loopback: the process connects to
//! a TCP relay the test owns instead of to the server. While the relay is cut, nothing crosses
//! it in either direction, not even a connection's end (a peer that closes is not seen to close
//! until the cut heals), and new connections are held unanswered: what a dropped-packet
//! partition looks like from both ends. Healing lets everything held go through, as TCP's
//! retransmissions would.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Partition {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Partition {
    /// A relay on a free loopback port to `upstream` (`host:port`), not cut.
    pub async fn relay_to(upstream: &str) -> Partition {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay bind");
        let addr = listener.local_addr().expect("relay address");
        let (cut, _) = watch::channel(false);
        let upstream = upstream.to_string();
        let cuts = cut.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), cuts.subscribe()));
            }
        });
        Partition { addr, cut, accept }
    }

    /// `127.0.0.1:<port>`, for the process's server list.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// From now on nothing crosses.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Everything held goes through, and new traffic flows again.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn healed(cut: &mut watch::Receiver<bool>) -> bool {
    cut.wait_for(|c| !*c).await.is_ok()
}

async fn relay(client: TcpStream, upstream: String, mut cut: watch::Receiver<bool>) {
    if !healed(&mut cut).await {
        return;
    }
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, cut.clone()),
        pump(server_read, client_write, cut),
    );
}

/// Copies one direction; whatever was read (bytes or the end) waits while the relay is cut.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut cut: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = from.read(&mut buf).await;
        if !healed(&mut cut).await {
            return;
        }
        match read {
            Ok(n) if n > 0 => {
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            _ => break,
        }
    }
    let _ = to.shutdown().await;
}
