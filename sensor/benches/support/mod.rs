//! Recording real events for the benchmarks: the probe loaded, a workload touching every
//! family run, and the events the pipeline produced kept.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sensor::event::Event;
use sensor::pipeline::Pipeline;
use sensor::probe::{Probe, ProbeConfig};

/// A workload touching every family, run while recording.
const WORKLOAD: &str = r#"
d=$(mktemp -d)
for i in $(seq 1 40); do
  /bin/true "$i"; touch "$d/f$i"; chmod 755 "$d/f$i"; chmod u+s "$d/f$i"
  sh -c "sh -c 'chmod 600 $d/f$i'"
done
mkdir "$d/m"; mount -t tmpfs bench "$d/m"; umount "$d/m"
python3 -c 'import os
for _ in range(20):
    os.setresgid(0, 0, 0); os.setresuid(0, 0, 0); os.setuid(0)'
rm -rf "$d"
"#;

pub fn record() -> Vec<Event> {
    let probe = Probe::load(&ProbeConfig::default()).expect("load the probe (run as root)");
    let mut pipeline = Pipeline::new(probe);
    let stop = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let consumer = {
        let (stop, recorded) = (stop.clone(), recorded.clone());
        std::thread::spawn(move || {
            let mut sink = |event: &Event| -> Result<(), ()> {
                recorded.lock().map_err(|_| ())?.push(event.clone());
                Ok(())
            };
            let _ = pipeline.run(&stop, &mut sink);
        })
    };
    let status = Command::new("sh")
        .args(["-c", WORKLOAD])
        .status()
        .expect("workload");
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    consumer.join().expect("recorder");
    let events = std::mem::take(&mut *recorded.lock().expect("recorded"));
    events
}
