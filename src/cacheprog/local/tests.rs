use super::*;

#[test]
fn records_are_per_namespace_and_outputs_shared() {
    let dir = tempfile::tempdir().unwrap();
    let l = Local::open(&dir.path().join("c")).unwrap();
    let (a, o) = ([1u8; 32], [2u8; 32]);
    let p = l.put_output(&o, b"body").unwrap();
    assert!(p.is_absolute());
    assert!(p.extension().is_none());
    assert!(l.has_output(&o, 4) && !l.has_output(&o, 5));
    let rec = Record {
        output: hex(&o),
        size: 4,
        time: "2026-01-01T00:00:00Z".into(),
        scope: None,
    };
    l.put_record("ref-refs/pull/1/merge", &a, &rec).unwrap();
    assert_eq!(l.record("ref-refs/pull/1/merge", &a), Some(rec));
    assert_eq!(l.record("trusted", &a), None);
}

#[test]
fn a_down_note_keeps_the_same_store_off_for_a_while() {
    let n = DownNote {
        store: "s3://b/p at http://127.0.0.1:9000".into(),
        at: 1_000_000,
        reason: "no answer within 10s".into(),
    };
    let s = n.store.clone();
    for (store, now, off) in [
        (s.as_str(), 1_000_000, true),
        (s.as_str(), 1_000_000 + DOWN_FOR_SECS - 1, true),
        (s.as_str(), 1_000_000 + DOWN_FOR_SECS, false),
        // Another store, or the same bucket through another endpoint, is asked.
        ("s3://b/p", 1_000_001, false),
        ("s3://b/q at http://127.0.0.1:9000", 1_000_001, false),
        // A clock set back by more than a minute does not keep the store off.
        (s.as_str(), 1_000_000 - 60, true),
        (s.as_str(), 1_000_000 - 61, false),
    ] {
        assert_eq!(n.applies(store, now), off, "{store} at {now}");
    }
    let dir = tempfile::tempdir().unwrap();
    let l = Local::open(dir.path()).unwrap();
    assert_eq!(l.down_note(), None);
    l.note_down(&n.store, &n.reason, n.at).unwrap();
    assert_eq!(l.down_note(), Some(n));
    std::fs::write(l.meta_path(DOWN_NOTE), b"{").unwrap();
    assert_eq!(l.down_note(), None);
}

fn age(p: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - secs, 0);
    filetime::set_file_mtime(p, t).unwrap();
}

#[test]
fn trims_once_a_day_what_went_unused() {
    const DAY: i64 = 86_400;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    let l = Local::open(&root).unwrap();
    let rec = |o: &Id| Record {
        output: hex(o),
        size: 4,
        time: "2026-01-01T00:00:00Z".into(),
        scope: None,
    };
    // Old and unused; old but used now (a hit touches output and record); fresh.
    let (old_a, old_o) = ([1u8; 32], [2u8; 32]);
    let (used_a, used_o) = ([3u8; 32], [4u8; 32]);
    let (new_a, new_o) = ([5u8; 32], [6u8; 32]);
    for (a, o) in [(old_a, old_o), (used_a, used_o), (new_a, new_o)] {
        l.put_output(&o, b"body").unwrap();
        l.put_record("trusted", &a, &rec(&o)).unwrap();
    }
    let stats = root.join("meta/stats/1-1.json");
    l.write(&stats, b"{}").unwrap();
    let outside = dir.path().join("beside.txt");
    std::fs::write(&outside, "not the tier's").unwrap();
    for p in [
        l.output_path(&old_o),
        l.record_path("trusted", &old_a),
        l.output_path(&used_o),
        l.record_path("trusted", &used_a),
        stats.clone(),
        outside.clone(),
    ] {
        age(&p, 10 * DAY);
    }
    l.touch(&used_o);
    l.touch_record("trusted", &used_a);
    let five = Duration::from_secs(5 * DAY as u64);
    let now = SystemTime::now();

    // No stamp yet: one is written and nothing goes (as a new Go cache does).
    assert_eq!(l.trim_if_due(five, now), None);
    assert!(l.has_output(&old_o, 4));
    // A day has not passed.
    assert_eq!(l.trim_if_due(five, now + Duration::from_secs(3600)), None);
    assert!(l.has_output(&old_o, 4));

    let record_bytes = std::fs::metadata(l.record_path("trusted", &old_a))
        .unwrap()
        .len();
    let later = now + TRIM_EVERY;
    let r = l.trim_if_due(five, later).expect("a day later it trims");
    assert_eq!(
        (r.listed, r.removed, r.bytes, r.errors),
        (7, 3, 4 + record_bytes + 2, 0)
    );
    assert!(!l.has_output(&old_o, 4) && l.record("trusted", &old_a).is_none());
    assert!(!stats.exists());
    assert!(l.has_output(&used_o, 4) && l.record("trusted", &used_a).is_some());
    assert!(l.has_output(&new_o, 4) && l.record("trusted", &new_a).is_some());
    assert!(outside.exists(), "nothing outside the tier is touched");
    // The stamp moved: not again the same day.
    assert_eq!(l.trim_if_due(five, later + Duration::from_secs(60)), None);
}

/// An ar archive of the given members, as `pack` writes Go archives.
fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = b"!<arch>\n".to_vec();
    for (name, data) in members {
        b.extend(
            format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                644,
                data.len()
            )
            .as_bytes(),
        );
        b.extend_from_slice(data);
        if data.len() % 2 == 1 {
            b.push(b'\n');
        }
    }
    b
}

#[test]
fn native_outputs_are_told_from_pure_go_ones() {
    let pkgdef: &[u8] = b"go object linux amd64 go1.26.8 X:none\n$$B\n";
    let go: &[u8] = b"go object linux amd64 go1.26.8 X:none\n!\n\x00go120ld";
    let elf: &[u8] = b"\x7fELF\x02\x01\x01\x00rest";
    // A pure package, one with assembly (Go's own object format), and a cgo one.
    assert!(!is_native(&archive(&[
        ("__.PKGDEF", pkgdef),
        ("_go_.o", go)
    ])));
    assert!(!is_native(&archive(&[
        ("__.PKGDEF", pkgdef),
        ("_go_.o", go),
        ("asm_amd64.o", go)
    ])));
    assert!(is_native(&archive(&[
        ("__.PKGDEF", pkgdef),
        ("_go_.o", go),
        ("_x001.o", elf)
    ])));
    // Executables and objects of every platform's format.
    for magic in [&b"\x7fELF"[..], b"\xcf\xfa\xed\xfe", b"MZ\x90\x00"] {
        assert!(is_native(magic), "{magic:?}");
    }
    // Anything else (test results, vet facts, Go's module index).
    for other in [
        &b"ok  \texample.com/x\t0.1s\n"[..],
        b"go index v2\n",
        b"",
        b"!<arch>\nshort",
    ] {
        assert!(!is_native(other), "{other:?}");
    }
    let scoped = Record {
        output: hex(&[1; 32]),
        size: 1,
        time: String::new(),
        scope: Some("image-aaaa".into()),
    };
    assert!(scoped.usable("image-aaaa"));
    assert!(!scoped.usable("image-bbbb"));
    let pure = Record {
        scope: None,
        ..scoped.clone()
    };
    assert!(pure.usable("image-bbbb"));
    assert!(
        !Record {
            output: "zz".into(),
            ..pure
        }
        .usable("image-bbbb")
    );
}

#[cfg(unix)]
#[test]
fn nothing_is_written_or_removed_through_a_symlink_in_the_tier() {
    const DAY: i64 = 86_400;
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(outside.join("ab")).unwrap();
    let victim = outside.join("ab").join("old");
    std::fs::write(&victim, "not the tier's").unwrap();
    age(&victim, 30 * DAY);
    let root = dir.path().join("tier");
    let l = Local::open(&root).unwrap();
    // A planted link where the outputs' directory belongs: the daily trim and
    // `cacheprog-gc --local` walk nothing through it, and writes refuse it.
    std::os::unix::fs::symlink(&outside, root.join("o")).unwrap();
    let r = l.trim(SystemTime::now(), false);
    assert_eq!(r.removed, 0, "{r:?}");
    assert!(victim.exists());
    let err = l.put_output(&[0xab; 32], b"body").unwrap_err();
    assert!(format!("{err:#}").contains("not a directory"), "{err:#}");
    assert_eq!(std::fs::read_dir(outside.join("ab")).unwrap().count(), 1);
    // A link deeper down (one namespace's directory) is refused the same way.
    std::fs::remove_file(root.join("o")).unwrap();
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("a").join("trusted")).unwrap();
    let rec = Record {
        output: hex(&[2; 32]),
        size: 4,
        time: String::new(),
        scope: None,
    };
    assert!(l.put_record("trusted", &[0xab; 32], &rec).is_err());
    assert_eq!(std::fs::read_dir(outside.join("ab")).unwrap().count(), 1);
    assert_eq!(l.trim(SystemTime::now(), false).removed, 0);
    assert!(victim.exists());
    // The tier's own files still go.
    l.put_output(&[0xcd; 32], b"body").unwrap();
    age(&l.output_path(&[0xcd; 32]), 30 * DAY);
    assert_eq!(
        l.trim(SystemTime::now() - Duration::from_secs(DAY as u64), false)
            .removed,
        1
    );
}
