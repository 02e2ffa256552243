use super::*;

#[test]
fn outputs_are_deflated_and_inflate_to_exactly_their_size() {
    let body: Vec<u8> = (0..100_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let packed = pack(&body);
    assert!(packed.len() * 3 < body.len(), "{}", packed.len());
    assert_eq!(
        unpack(&packed, body.len() as u64).as_deref(),
        Some(&body[..])
    );
    assert_eq!(
        unpack(&packed, body.len() as u64 - 1),
        None,
        "longer than said"
    );
    assert_eq!(
        unpack(&packed, body.len() as u64 + 1),
        None,
        "shorter than said"
    );
    assert_eq!(unpack(&packed[..packed.len() / 2], body.len() as u64), None);
    assert_eq!(unpack(&[b'x'; 64], 64), None, "not deflate");
    assert_eq!(unpack(&pack(b""), 0), Some(Vec::new()));
}

#[test]
fn urls() {
    let u = RemoteUrl::parse("s3://my-bucket/ci/go/").unwrap();
    assert_eq!(
        (u.bucket.as_str(), u.prefix.as_str()),
        ("my-bucket", "ci/go")
    );
    assert_eq!(u.to_string(), "s3://my-bucket/ci/go");
    assert_eq!(RemoteUrl::parse("s3://bkt").unwrap().prefix, "");
    for bad in [
        "https://x/y",
        "s3://",
        "s3://B/x",
        "s3://ok-bucket/a/../b",
        "s3://ok-bucket/a//b",
    ] {
        let e = RemoteUrl::parse(bad).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2, "{bad}");
        assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
    }
}
