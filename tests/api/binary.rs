//! The real `trainyard` binary: it starts, logs `listening on http://ADDR` with the real port,
//! serves, and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_logs_its_address_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database = format!("sqlite://{}", dir.path().join("bin.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainyard"))
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .args(["--database-url", &database])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some((_, address)) = line.split_once("listening on http://") {
                let _ = sender.send(address.trim().to_owned());
            }
        }
    });
    let address = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("a `listening on` line within 60 s");
    assert!(
        !address.ends_with(":0"),
        "the real port is logged: {address}"
    );

    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .expect("the server answers");
    assert_eq!(health.status(), reqwest::StatusCode::OK);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut exited = None;
    for _ in 0..200 {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    match exited {
        Some(status) => assert!(status.success(), "exit status {status}"),
        None => {
            let _ = child.kill();
            panic!("the server did not exit within 10 s of SIGTERM");
        }
    }
}
