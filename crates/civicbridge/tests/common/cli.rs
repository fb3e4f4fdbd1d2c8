//! Running the `civicbridge` binary as an admin would, on a small config with one link.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn civicbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_civicbridge"))
        .args(args)
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub const CONFIG: &str = r#"
[store]
path = "data"
[matrix]
homeserver_url = "http://127.0.0.1:1"
user_id = "@bridge:localhost"
password = "pw"
[telegram]
token = "123456:ABCdefghijklmnopqrstuvwxyz0123456789"
[links.planning]
moderation_room = "matrix:!mod:localhost"
moderators = ["matrix:@mod:localhost"]
rooms = [
  { room = "matrix:!staff:localhost", side = "staff" },
  { room = "telegram:-100", side = "public" },
]
"#;

pub fn config_in(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("civicbridge.toml");
    std::fs::write(&p, text).unwrap();
    p
}
