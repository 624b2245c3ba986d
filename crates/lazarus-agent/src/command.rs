//! Running a configured command (restart, power-off, watchdog stand-in, checks).

use std::process::Stdio;
use std::time::Duration;

/// Time limit of one configured command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `argv` followed by `extra`, without a shell. `Ok` on exit status 0; otherwise
/// the status and the end of stderr.
pub async fn run(argv: &[String], extra: &[&str]) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("no command configured".into());
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(COMMAND_TIMEOUT, child).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(format!("{program}: {e}")),
        Err(_) => return Err(format!("{program}: no exit within {COMMAND_TIMEOUT:?}")),
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = stderr
        .trim()
        .chars()
        .rev()
        .take(300)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(format!(
        "{program}: {}{}",
        out.status,
        if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        }
    ))
}

/// Runs `argv` + `extra` and reports whether it exited 0; `None` if it could not run.
pub async fn succeeds(argv: &[String], extra: &[&str]) -> Option<bool> {
    let (program, args) = argv.split_first()?;
    let status = tokio::process::Command::new(program)
        .args(args)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status();
    match tokio::time::timeout(Duration::from_secs(10), status).await {
        Ok(Ok(s)) => Some(s.success()),
        Ok(Err(_)) | Err(_) => None,
    }
}
