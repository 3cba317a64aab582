//! The embedded store's data directory and database file are readable by
//! the server's user only: they hold the journal and sealed credentials.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_database_are_private_to_the_server_user() {
    let fake = start_fake().await;
    let env = fake_env(&fake, "utility");
    let dir = std::path::PathBuf::from(&env["GOJIRA_DATA_DIR"]);
    let server = start_server(&env);
    assert_eq!(
        mode(&dir),
        0o700,
        "a new data directory is created 0700 ({})",
        dir.display()
    );
    assert_eq!(
        mode(&dir.join("gojira.redb")),
        0o600,
        "the database file is created 0600"
    );
    drop(server);

    // A database left readable by others (an older version, a copy) is
    // made private again at the next start, and the server says so.
    std::fs::set_permissions(
        dir.join("gojira.redb"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let server = start_server(&env);
    assert_eq!(mode(&dir.join("gojira.redb")), 0o600);
    assert!(
        server.stderr().contains("0600"),
        "the tightening is logged:\n{}",
        server.stderr()
    );
}
