//! `make demo`: the retry loop told as a story on a local AWS (moto) with the real Lambda binaries under SAM's
//! runtime emulator. The story itself is `reactor_testkit::story`, which a test asserts (tests/integration/demo.rs).

// A demo program: a panic with its message is the right way to fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reactor_testkit::story;

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
