//! A `sensor run` of a test's own, and waiting for child processes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use super::SENSOR;

pub fn wait_timeout(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn sigterm(child: &Child) {
    // SAFETY: signalling a child this test started, by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

/// A `sensor run` of this test's own (no stdout output, no health port), its stderr on a
/// channel; stopped on drop.
pub struct RunningSensor {
    child: Option<Child>,
    logs: Receiver<String>,
}

impl RunningSensor {
    pub fn start(args: &[&str]) -> RunningSensor {
        let mut child = Command::new(SENSOR)
            .args(["run", "--no-health", "--no-stdout"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sensor run");
        let stderr = child.stderr.take().unwrap();
        let (tx, logs) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[sensor] {line}");
                let _ = tx.send(line);
            }
        });
        let sensor = RunningSensor {
            child: Some(child),
            logs,
        };
        sensor.wait_log("eBPF programs attached", Duration::from_secs(60));
        sensor
    }

    pub fn wait_log(&self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            match self
                .logs
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("the sensor logged no line containing `{text}`"),
            }
        }
    }

    /// SIGTERM; the exit status.
    pub fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        sigterm(&child);
        wait_timeout(&mut child, Duration::from_secs(30)).expect("sensor stops within 30 s")
    }
}

impl Drop for RunningSensor {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigterm(&child);
            let _ = child.wait();
        }
    }
}
