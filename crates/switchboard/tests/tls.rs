//! SIP over TLS (rustls): a carrier on TLS, an agent on UDP. The engine's
//! responses come back on the TLS connection, its Contact says
//! transport=tls, and the call completes.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use bytes::Bytes;
use sip_core::Message;
use support::ua::Ua;
use support::*;

fn tls_client(
    addr: std::net::SocketAddr,
    cert_der: Vec<u8>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// Reads framed SIP messages until one satisfies `want`.
fn read_until(s: &mut impl Read, buf: &mut Vec<u8>, want: impl Fn(&Message) -> bool) -> Message {
    let mut chunk = [0u8; 4096];
    loop {
        while let Ok(Some(n)) = Message::frame_len(buf) {
            let data: Vec<u8> = buf.drain(..n).collect();
            if let Ok(m) = Message::parse(Bytes::from(data)) {
                if want(&m) {
                    return m;
                }
            }
        }
        let n = s.read(&mut chunk).expect("TLS read");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn a_carrier_over_tls_completes_a_call() {
    let base = port_block();
    let key =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = std::env::temp_dir().join(format!("switchboard-tls-certs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), key.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.key_pair.serialize_pem()).unwrap();
    let tls_port = base + 2;
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE).replace(
        &format!("listen = [\"udp:127.0.0.1:{base}\"]"),
        &format!(
            "listen = [\"udp:127.0.0.1:{base}\", \"tls:127.0.0.1:{tls_port}\"]\ntls_cert = \"{}\"\ntls_key = \"{}\"",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        ),
    );
    let e = Engine::start("tls", base, &toml);
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
    let agent_thread = std::thread::spawn(move || {
        agent.answer();
        agent.await_bye();
    });

    let mut tls = tls_client(
        std::net::SocketAddr::from(([127, 0, 0, 1], tls_port)),
        key.cert.der().to_vec(),
    );
    let me = tls.sock.local_addr().unwrap();
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sdp = format!(
        "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\n",
        rtp.local_addr().unwrap().port()
    );
    let head = |method: &str, cseq: &str, to_tag: &str| {
        format!(
            "{method} sip:5000@127.0.0.1:{tls_port};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS {me};branch=z9hG4bK-tls-{cseq}\r\n\
From: <sip:carrier@127.0.0.1>;tag=tls1\r\nTo: <sip:5000@127.0.0.1>{to_tag}\r\nCall-ID: tls-call-1\r\nCSeq: {cseq} {method}\r\n\
Contact: <sip:carrier@{me};transport=tls>\r\nMax-Forwards: 70\r\n"
        )
    };
    let invite = format!(
        "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        head("INVITE", "1", ""),
        sdp.len()
    );
    tls.write_all(invite.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let ok = read_until(&mut tls, &mut buf, |m| m.status() == Some(200));
    assert!(
        ok.contact().unwrap().uri_text.contains("transport=tls"),
        "{:?}",
        ok.contact()
    );
    let tag = format!(";tag={}", ok.to().tag().unwrap());
    tls.write_all(format!("{}Content-Length: 0\r\n\r\n", head("ACK", "1", &tag)).as_bytes())
        .unwrap();
    tls.write_all(format!("{}Content-Length: 0\r\n\r\n", head("BYE", "2", &tag)).as_bytes())
        .unwrap();
    let bye_ok = read_until(&mut tls, &mut buf, |m| m.cseq().seq == 2);
    assert_eq!(bye_ok.status(), Some(200));
    agent_thread.join().unwrap();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed", "{c}");
    assert_eq!(c["agent"], "1001");
}
