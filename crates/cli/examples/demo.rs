//! `make demo`: the retry loop told as a story on a local AWS (moto) with the real Lambda binaries under SAM's
//! runtime emulator. The story itself lives with the tests (tests/integration/story.rs), which assert it.

// A demo program: a panic with its message is the right way to fail.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../../../tests/integration/moto.rs"]
mod moto;
#[path = "../../../tests/integration/rie.rs"]
mod rie;
#[path = "../../../tests/integration/stack.rs"]
mod stack;
#[path = "../../../tests/integration/story.rs"]
mod story;

mod cli {
    /// The repository root.
    pub fn root() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }
}

#[tokio::main]
async fn main() {
    println!(
        "ecs-reactor demo: a scheduled job whose first attempt hits Docker Hub's rate limit\n"
    );
    let story = story::play(true).await;
    println!(
        "\nThe run's rows, as on-call sees them (one Query on pk = RUN#{}):\n",
        story.run_id
    );
    print!("{}", story::render_rows(&story.rows));
    println!(
        "\nOn-call's view: a second job (weekly-export) waits for a retry after its ENI could not be attached;\n\
         on-call asks the table and acts, with the ecs-reactor command line:\n"
    );
    story::on_call(&story, true).await;
    println!("Everything started by the demo (moto, the emulators) is stopped when it exits.");
}
