//! Recording real events for the benchmarks: the probe loaded, a workload touching every
//! family run, and the events the pipeline produced kept.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sensor::model::Event;
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
# The same inside a cgroup named like a containerd container's, for container events.
sh -c "echo \$\$ > $BENCH_CGROUP/cgroup.procs; for i in \$(seq 1 40); do chmod 600 $d/f\$i; /bin/true \$i; done"
rm -rf "$d"
"#;

/// The container id of the workload's container events.
pub const CONTAINER_ID: &str = "be7c4000c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

pub fn record() -> Vec<Event> {
    record_while(|| {
        let cgroup = cgroup2_mount()
            .join("sensor-bench.slice")
            .join(format!("cri-containerd-{CONTAINER_ID}.scope"));
        std::fs::create_dir_all(&cgroup).expect("bench cgroup");
        let status = Command::new("sh")
            .args(["-c", WORKLOAD])
            .env("BENCH_CGROUP", &cgroup)
            .status()
            .expect("workload");
        assert!(status.success());
    })
}

/// Every event the library pipeline produces (the probe loaded on the real kernel) while
/// `workload` runs, and for 300 ms after it returns. Also used by
/// `sensor/tests/field_agreement.rs`.
pub fn record_while(workload: impl FnOnce()) -> Vec<Event> {
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
    workload();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    consumer.join().expect("recorder");
    let events = std::mem::take(&mut *recorded.lock().expect("recorded"));
    events
}

/// Removes the workload's cgroup; call once the recorded events have been enriched (the
/// container is identified from it).
pub fn remove_cgroup() {
    let slice = cgroup2_mount().join("sensor-bench.slice");
    let _ = std::fs::remove_dir(slice.join(format!("cri-containerd-{CONTAINER_ID}.scope")));
    let _ = std::fs::remove_dir(slice);
}

pub fn cgroup2_mount() -> std::path::PathBuf {
    let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    mounts
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (_, dir, fstype) = (f.next()?, f.next()?, f.next()?);
            (fstype == "cgroup2").then(|| std::path::PathBuf::from(dir))
        })
        .expect("a cgroup2 mount")
}
