use super::file::merge_selector_args;
use super::selector::{ChannelUse, DenialKind, KeyUse, Request};
use super::*;
use crate::cmd::args::argv;

fn rules(ops: &[&str]) -> Result<UserRules, RuleError> {
    let mut r = UserRules::default();
    for op in ops {
        r.apply(op.as_bytes())?;
    }
    Ok(r)
}

#[test]
fn passwords_are_stored_hashed_and_checked() {
    let r = rules(&["on", ">secret"]).unwrap();
    assert_eq!(
        r.passwords,
        ["2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"]
    );
    assert!(r.accepts(b"secret"));
    assert!(!r.accepts(b"other"));
    let off = rules(&["off", ">secret"]).unwrap();
    assert!(!off.accepts(b"secret"));
    let hashed = rules(&["on", &format!("#{}", user::hash_password(b"x"))]).unwrap();
    assert!(hashed.accepts(b"x"));
    assert_eq!(rules(&["#abc"]), Err(RuleError::BadHash));
    assert_eq!(rules(&["<nope"]), Err(RuleError::NoSuchPassword));
}

#[test]
fn read_and_write_key_patterns_grant_what_they_say() {
    let r = rules(&["allcommands", "%R~r:*", "%W~w:*", "~both:*"]).unwrap();
    let args = argv(&["x", "r:1", "w:1", "both:1"]);
    let check = |pos, read, write| {
        r.check(&Request {
            index: 0,
            no_auth: false,
            first_arg_at: 1,
            argv: &args,
            keys: &[KeyUse { pos, read, write }],
            channels: &[],
        })
    };
    assert!(check(1, true, false).is_ok());
    assert_eq!(check(1, false, true).unwrap_err().kind, DenialKind::Key);
    assert!(check(2, false, true).is_ok());
    assert!(check(2, true, true).is_err());
    assert!(check(3, true, true).is_ok());
}

#[test]
fn channel_patterns_match_names_and_equal_patterns() {
    let r = rules(&["allcommands", "&news.*"]).unwrap();
    let args = argv(&["x", "news.sport", "news.*", "other"]);
    let check = |pos, pattern| {
        r.check(&Request {
            index: 0,
            no_auth: false,
            first_arg_at: 1,
            argv: &args,
            keys: &[],
            channels: &[ChannelUse { pos, pattern }],
        })
    };
    assert!(check(1, false).is_ok());
    assert!(check(2, true).is_ok());
    assert!(check(1, true).is_err());
    assert_eq!(check(3, false).unwrap_err().pos, 3);
}

#[test]
fn patterns_after_all_are_refused() {
    assert_eq!(rules(&["allkeys", "~x"]), Err(RuleError::KeysAfterAll));
    assert_eq!(rules(&["&*", "&x"]), Err(RuleError::ChannelsAfterAll));
    assert_eq!(rules(&["%RX~x"]), Err(RuleError::Syntax));
}

#[test]
fn selectors_merge_across_arguments() {
    let ops: Vec<&[u8]> = vec![b"on", b"(~a", b"+get)", b"(~b)"];
    assert_eq!(
        merge_selector_args(&ops).unwrap(),
        vec![b"on".to_vec(), b"(~a +get)".to_vec(), b"(~b)".to_vec()]
    );
    let open: Vec<&[u8]> = vec![b"(~a", b"+get"];
    assert_eq!(merge_selector_args(&open), Err(&b"(~a"[..]));
}

#[test]
fn requirepass_sets_the_default_users_password() {
    let acl = Acl::new("");
    assert!(acl.new_clients_authenticated());
    acl.set_default_password("pw");
    assert!(!acl.new_clients_authenticated());
    assert!(acl.authenticate(b"default", b"pw").is_some());
    assert!(acl.authenticate(b"default", b"x").is_none());
    assert!(acl.default_user().unrestricted());
}

#[test]
fn deleting_never_removes_the_default_user() {
    let acl = Acl::new("");
    acl.set_user(b"alice", &[b"on"]).unwrap();
    let removed = acl.delete_users(&[b"alice", b"default", b"nobody"]);
    assert_eq!(removed.len(), 1);
    assert!(acl.user(b"default").is_some());
}
