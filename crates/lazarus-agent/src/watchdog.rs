//! The watchdog: a device (`/dev/watchdog`, Linux softdog or hardware) fed by writing
//! a byte, or a stand-in command run at each feed (tests).
//!
//! Opening the device arms it. On a clean shutdown the agent writes the magic close
//! character `V` and closes it, which disarms it (unless the driver was loaded with
//! `nowayout`). After the isolation response `stop-feeding-watchdog` it is never
//! disarmed: the reset is the point.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

/// Why a feed failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    /// Opening or writing the device failed.
    #[error("watchdog {path}: {source}")]
    Device {
        /// The device.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The stand-in command failed.
    #[error("watchdog feed command: {0}")]
    Command(String),
}

/// A configured watchdog.
#[derive(Debug)]
pub enum Watchdog {
    /// None configured.
    None,
    /// A device, opened (armed) at the first feed.
    Device {
        /// The device path.
        path: PathBuf,
        /// The open device.
        file: Option<File>,
    },
    /// A stand-in command, argv.
    Command(Vec<String>),
}

impl Watchdog {
    /// From the configuration.
    pub fn from_config(c: &crate::config::WatchdogSection) -> Self {
        if !c.device.as_os_str().is_empty() {
            Watchdog::Device {
                path: c.device.clone(),
                file: None,
            }
        } else if !c.feed_command.is_empty() {
            Watchdog::Command(c.feed_command.clone())
        } else {
            Watchdog::None
        }
    }

    /// Whether one is configured.
    pub fn is_some(&self) -> bool {
        match self {
            Watchdog::None => false,
            Watchdog::Device { .. } | Watchdog::Command(_) => true,
        }
    }

    /// Feeds it once (opening, hence arming, the device the first time).
    pub async fn feed(&mut self) -> Result<(), WatchdogError> {
        match self {
            Watchdog::None => Ok(()),
            Watchdog::Device { path, file } => {
                let err = |source| WatchdogError::Device {
                    path: path.clone(),
                    source,
                };
                if file.is_none() {
                    *file = Some(
                        std::fs::OpenOptions::new()
                            .write(true)
                            .open(&*path)
                            .map_err(err)?,
                    );
                }
                match file {
                    Some(f) => f.write_all(b"\0").and_then(|()| f.flush()).map_err(err),
                    None => Ok(()),
                }
            }
            Watchdog::Command(argv) => crate::command::run(argv, &[])
                .await
                .map_err(WatchdogError::Command),
        }
    }

    /// Disarms the device on a clean shutdown (magic close).
    pub fn disarm(&mut self) {
        match self {
            Watchdog::Device { path, file } => {
                if let Some(mut f) = file.take() {
                    if let Err(e) = f.write_all(b"V").and_then(|()| f.flush()) {
                        tracing::warn!(device = %path.display(), "watchdog magic close failed: {e}");
                    }
                }
            }
            Watchdog::None | Watchdog::Command(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_device_gets_a_byte_per_feed_and_a_v_on_disarm() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("watchdog");
        std::fs::write(&dev, "").unwrap();
        let mut w = Watchdog::Device {
            path: dev.clone(),
            file: None,
        };
        w.feed().await.unwrap();
        w.feed().await.unwrap();
        w.disarm();
        assert_eq!(std::fs::read(&dev).unwrap(), b"\0\0V");
    }

    #[tokio::test]
    async fn a_missing_device_is_an_error_naming_it() {
        let mut w = Watchdog::Device {
            path: "/nonexistent/watchdog".into(),
            file: None,
        };
        let e = w.feed().await.unwrap_err().to_string();
        assert!(e.contains("/nonexistent/watchdog"), "{e}");
    }
}
