//! Each command run as a user runs it, on a job file made by the library
//! and on one with the upstream schema made by plain SQLite.

mod common;

use common::{cli, key, library_job, root, upstream_job, TOPIC};
use persistency::format_key;
use predicates::prelude::*;
use serde_json::Value;

fn stdout(cmd: &mut assert_cmd::Command) -> String {
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
}

#[test]
fn jobs_lists_every_job_file_with_its_rows() {
    let (_dir, root) = root();
    library_job(&root, "store", 20);
    upstream_job(&root, "nim", 5);
    let table = stdout(cli().args(["jobs", &root]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("JOB"), "{table}");
    let nim: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&nim[..3], ["nim", "5", "1"], "{table}");
    let store: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(&store[..3], ["store", "22", "2"], "{table}");

    let json: Value = serde_json::from_str(&stdout(cli().args(["jobs", &root, "--json"]))).unwrap();
    assert_eq!(json[1]["job"], "store");
    assert_eq!(json[1]["rows"], 22);
    assert_eq!(json[1]["categories"], 2);
    assert!(json[1]["file_bytes"].as_u64().unwrap() > 0);
    assert!(json[1]["live_bytes"].as_u64().unwrap() > 0);
    assert!(json[1]["modified"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn stat_shows_each_category_with_decoded_bounds() {
    let (_dir, root) = root();
    library_job(&root, "store", 10);
    let table = stdout(cli().args(["stat", &root, "store"]));
    let messages = table
        .lines()
        .find(|l| l.starts_with("messages"))
        .expect(&table);
    assert!(messages.contains(&format_key(&key(0))), "{table}");
    assert!(
        messages.contains(&format!("\"{TOPIC}\", 1700000000009, 0x")),
        "{table}"
    );
    let json: Value =
        serde_json::from_str(&stdout(cli().args(["stat", &root, "store", "--json"]))).unwrap();
    let cats = json["categories"].as_array().unwrap();
    assert_eq!(cats.len(), 2);
    assert_eq!(cats[0]["category"], "messages");
    assert_eq!(cats[0]["rows"], 10);
    assert_eq!(cats[0]["key_bytes"], 10 * key(0).len() as u64);
    assert_eq!(cats[1]["min_key"], "(\"version\")");
    assert_eq!(cats[1]["max_key"], "(raw:0xfffe)");
}

#[test]
fn scan_decodes_keys_and_takes_keys_in_the_notation() {
    let (_dir, root) = root();
    upstream_job(&root, "nim", 10);
    let all = stdout(cli().args(["scan", &root, "nim"]));
    assert_eq!(all.lines().count(), 10);
    let first: Vec<&str> = all.lines().next().unwrap().split('\t').collect();
    assert_eq!(first, ["messages", format_key(&key(0)).as_str(), ""]);
    let second: Vec<&str> = all.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!(second[2], "0x00ff010a22");

    let from = format!("(\"{TOPIC}\", 1700000000003)");
    let to = format!("(\"{TOPIC}\", 1700000000006)");
    let some = stdout(cli().args([
        "scan", &root, "nim", "-c", "messages", "--from", &from, "--to", &to,
    ]));
    let keys: Vec<&str> = some
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            format_key(&key(3)),
            format_key(&key(4)),
            format_key(&key(5))
        ]
    );

    let prefix = format!("(\"{TOPIC}\")");
    let last = stdout(cli().args([
        "scan",
        &root,
        "nim",
        "--prefix",
        &prefix,
        "--reverse",
        "-n",
        "1",
        "--payload",
        "base64",
    ]));
    assert_eq!(
        last,
        format!("messages\t{}\tAP8JCiI=\n", format_key(&key(9)))
    );
}

#[test]
fn get_prints_one_payload_in_the_chosen_form() {
    let (_dir, root) = root();
    library_job(&root, "store", 10);
    let k = format_key(&key(4));
    cli()
        .args(["get", &root, "store", "-c", "messages", &k])
        .assert()
        .success()
        .stdout("message 4\n");
    cli()
        .args([
            "get",
            &root,
            "store",
            "-c",
            "messages",
            &format_key(&key(3)),
            "--payload",
            "hex",
        ])
        .assert()
        .success()
        .stdout("0x00ff030a22\n");
    cli()
        .args([
            "get",
            &root,
            "store",
            "-c",
            "meta",
            "raw:0xfffe",
            "--payload",
            "raw",
        ])
        .assert()
        .success()
        .stdout(&[1u8, 2, 3][..]);
    cli()
        .args(["get", &root, "store", "-c", "messages", "(\"nope\")"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("store.db: no key (\"nope\")")
                .and(predicate::str::contains("persistency scan")),
        );
}
