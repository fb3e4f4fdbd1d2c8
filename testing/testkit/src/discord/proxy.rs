//! discord.com on the way to the local Discord, so the connector's production path can be
//! tested: serenity's rate limiter always calls `https://discord.com` (it ignores a custom API
//! base). This is an HTTP proxy that answers `CONNECT discord.com:443`, ends TLS with a
//! certificate for discord.com signed by a test CA ([`TEST_CA_PEM`], which the client must
//! trust), and pipes the decrypted bytes to the local Discord. Nothing else is proxied.

use super::ServerError;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

/// The test CA that signed the proxy's discord.com certificate (PEM). Test use only: its key
/// is not kept, and the leaf's key is in this repository.
pub const TEST_CA_PEM: &str = include_str!("tls/ca.pem");
const LEAF_PEM: &str = include_str!("tls/discord.com.pem");
const LEAF_KEY: &str = include_str!("tls/discord.com.key");

/// A running proxy on 127.0.0.1. Dropping it stops it.
#[derive(Debug)]
pub struct DiscordProxy {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for DiscordProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl DiscordProxy {
    /// Starts a proxy that sends discord.com's traffic to the local Discord at `target`.
    pub async fn start(target: SocketAddr) -> Result<DiscordProxy, ServerError> {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config()?));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    _ = until.cancelled() => return,
                    c = listener.accept() => c,
                };
                let Ok((sock, _)) = conn else { continue };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Err(e) = tunnel(sock, acceptor, target).await {
                        tracing::debug!("discord proxy connection ended: {e}");
                    }
                });
            }
        });
        Ok(DiscordProxy { addr, stop })
    }

    /// `http://127.0.0.1:PORT`, for `reqwest::Proxy::https`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn tls_config() -> Result<rustls::ServerConfig, ServerError> {
    let bad = |e: String| ServerError::Tls(e);
    let certs = CertificateDer::pem_slice_iter(LEAF_PEM.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(LEAF_KEY.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// One client connection: CONNECT, TLS as discord.com, then bytes both ways.
async fn tunnel(
    mut sock: TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    target: SocketAddr,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 || head.len() > 8192 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let first = String::from_utf8_lossy(&head);
    let line = first.lines().next().unwrap_or_default();
    if !line.starts_with("CONNECT discord.com:443 ") {
        sock.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    sock.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    let mut tls = acceptor.accept(sock).await?;
    let mut upstream = TcpStream::connect(target).await?;
    tokio::io::copy_bidirectional(&mut tls, &mut upstream).await?;
    Ok(())
}
