//! What the kernel says about a process (Linux `/proc`): CPU seconds and resident memory, for
//! the gateway, the load driver itself and the PostgreSQL server's processes.

use std::sync::OnceLock;

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times (`getconf CLK_TCK`; 100 on every
/// Linux we know when `getconf` is missing).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// User plus system CPU seconds process `pid` has used (`"self"` for this process), or `None`
/// when it is gone or `/proc` cannot be read.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which sits in parentheses and may hold spaces: state is
    // the first, utime the 12th and stime the 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second())
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
fn status_kib(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| {
            v.trim_start_matches(':')
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
}

/// Resident memory now, in KiB.
pub fn rss_kib(pid: &str) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// The most resident memory the process has had, in KiB.
pub fn peak_rss_kib(pid: &str) -> Option<u64> {
    status_kib(pid, "VmHWM")
}

/// CPU seconds used so far by every process named `postgres` that this user may read (the
/// local server's backends and helpers); `None` when there is none (a remote server, or no
/// PostgreSQL at all). Backends that exit between two readings take their time with them,
/// so compare readings taken while the same connections stay open.
pub fn postgres_cpu_seconds() -> Option<f64> {
    let mut total = 0.0;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres"
            && let Some(cpu) = cpu_seconds(pid)
        {
            total += cpu;
            found = true;
        }
    }
    found.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_seconds("self").is_some_and(|c| c >= 0.0));
        let rss = rss_kib("self").expect("VmRSS");
        let peak = peak_rss_kib("self").expect("VmHWM");
        assert!(rss > 0 && peak >= rss);
        assert_eq!(cpu_seconds("0"), None);
    }
}
