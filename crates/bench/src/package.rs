//! Section 4: the deployable package — `make build`'s arm64 `bootstrap` of each function and its zip, as
//! tools/package_sizes.py reports them. Built again only if a source is newer than the last build.

use crate::cli::root;
use crate::Options;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

pub enum Package {
    /// `--quick` does not build.
    Skipped,
    Measured {
        /// (function, bootstrap MB, zipped MB)
        sizes: Vec<(String, f64, f64)>,
        /// Built by this run (`make build`), or the earlier build reused because no source is newer.
        built_now: bool,
    },
}

/// The functions' binaries: `make build` puts each in `target/lambda/<binary>/bootstrap`, template.yml's CodeUri.
const BINARIES: [&str; 3] = ["starter", "classifier", "scheduler"];

pub fn run(options: &Options) -> Package {
    if options.quick {
        return Package::Skipped;
    }
    let build = root().join("target/lambda");
    let built = BINARIES
        .iter()
        .map(|f| modified(&build.join(f).join("bootstrap")))
        .collect::<Option<Vec<_>>>()
        .and_then(|times| times.into_iter().min());
    // The functions' crates (not the CLI's, which is not deployed).
    let crates = ["core", "aws", "starter", "classifier", "scheduler"];
    let sources = crates
        .iter()
        .filter_map(|c| newest(&root().join("crates").join(c)))
        .max()
        .max(
            ["Cargo.toml", "Cargo.lock", "template.yml"]
                .iter()
                .filter_map(|f| modified(&root().join(f)))
                .max(),
        );
    let built_now = match built {
        Some(built) if sources.is_some_and(|s| s <= built) => false,
        _ => {
            let status = Command::new("make")
                .arg("build")
                .current_dir(root())
                .status()
                .expect("run make build");
            assert!(status.success(), "make build failed");
            true
        }
    };
    let out = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tools/package_sizes.py"))
        .arg(&build)
        .output()
        .expect("run tools/package_sizes.py");
    assert!(
        out.status.success(),
        "package_sizes.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "StarterFunction          7.12 MB      2.84 MB"
    let sizes = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                [name, size, "MB", zipped, "MB"] => {
                    Some((name.to_string(), size.parse().ok()?, zipped.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect();
    Package::Measured { sizes, built_now }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the Rust sources and manifests under `dir`.
fn newest(dir: &Path) -> Option<SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            if path.is_dir() {
                newest(&path)
            } else if path.extension().is_some_and(|x| x == "rs") || path.ends_with("Cargo.toml") {
                modified(&path)
            } else {
                None
            }
        })
        .max()
}
