//! The workspace's one integration test binary: runs the built `ecs-reactor` like a user would.
//!
//! Modules by subject; each test names the files and flags it uses, so a failure reads like a bug report.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod beyond;
mod cli;
mod demo;
mod emulated;
mod explain;
mod faults;
mod handlers;
mod launcher;
mod moto;
mod notifier;
mod oncall;
mod operate;
mod readme;
mod reliability;
mod rie;
mod soak;
mod stack;
mod store;
mod story;
mod template;
