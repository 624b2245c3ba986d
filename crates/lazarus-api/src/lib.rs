//! lazarus HTTP API (work in progress).
