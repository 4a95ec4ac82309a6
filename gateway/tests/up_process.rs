//! `bordermesh up` as a real process: it serves, answers a crossing sent by `bordermesh cross`,
//! and stops with exit code 0 on SIGTERM, leaving its SQLite files in the data directory.

use std::{
    net::TcpListener,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BINARY: &str = env!("CARGO_BIN_EXE_bordermesh");
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/crossings/tourist-car-cleared.json"
);

/// Four ports free right now; the kernel may hand them out again, so the test binds at once.
fn free_ports() -> [u16; 4] {
    let listeners: Vec<_> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    [0, 1, 2, 3].map(|i| listeners[i].local_addr().unwrap().port())
}

fn cross(gateway: u16) -> std::process::Output {
    Command::new(BINARY)
        .args(["cross", EXAMPLE, "--gateway"])
        .arg(format!("http://127.0.0.1:{gateway}"))
        .output()
        .unwrap()
}

#[test]
fn up_serves_crossings_and_stops_cleanly_on_sigterm() {
    let data_dir = tempfile::tempdir().unwrap();
    let [gateway, identity, customs, sanitary] = free_ports();
    let mut up = Command::new(BINARY)
        .args(["up", "--data-dir"])
        .arg(data_dir.path())
        .env("BORDERMESH_GATEWAY__LISTEN", format!("127.0.0.1:{gateway}"))
        .env(
            "BORDERMESH_IDENTITY__LISTEN",
            format!("127.0.0.1:{identity}"),
        )
        .env("BORDERMESH_CUSTOMS__LISTEN", format!("127.0.0.1:{customs}"))
        .env(
            "BORDERMESH_SANITARY__LISTEN",
            format!("127.0.0.1:{sanitary}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let output = loop {
        let output = cross(gateway);
        if output.status.success() || started.elapsed() > Duration::from_secs(30) {
            break output;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains(": CLEARED"), "{printed}");

    let terminated = Command::new("kill")
        .args(["-TERM", &up.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = up.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "bordermesh up did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    for service in ["gateway", "identity", "customs", "sanitary"] {
        assert!(
            data_dir.path().join(format!("{service}.db")).exists(),
            "{service}.db"
        );
    }
}

#[test]
fn cross_exits_non_zero_when_the_gateway_cannot_be_reached() {
    let [port, ..] = free_ports();
    let output = cross(port);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not processed"));
}
