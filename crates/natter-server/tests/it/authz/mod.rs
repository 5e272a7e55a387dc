//! The authorization table (RELIABILITY.md Z1): every HTTP route and every
//! WebSocket request, tried by every kind of caller who must not get through.
//!
//! One world is built: alice owns a group that bob belongs to and carol was
//! removed from; alice and bob talk directly; alice blocked eve; dave is a
//! stranger; alice has a pending request to frank. Each probe must be refused
//! with the code its row names, must answer exactly as it would for something
//! that does not exist when the code is `not_found` (so nothing leaks, not even
//! existence), and must leave alice's and bob's view of the world unchanged.
//!
//! A route or frame type without a row fails [`every_route_and_frame_has_a_row`].

mod table;
mod world;

use std::collections::BTreeSet;
use std::path::Path;

use natter_protocol::ws::ClientRequest;
use natter_protocol::{ALL_ENDPOINTS, ErrorCode};

use table::{
    ACTORS, Actor, Cases, Expect, Na, OwnOnly, PUBLIC, Refused, Silent, http_table, ws_table,
};
use world::{Answer, SECRETS, World};

fn expectation(cases: &Cases, actor: Actor, auth: bool) -> Expect {
    match actor {
        Actor::NoToken | Actor::RevokedToken if !auth => Na(PUBLIC),
        Actor::NoToken | Actor::RevokedToken => Refused(ErrorCode::Unauthorized),
        Actor::OtherUser => cases.other_user,
        Actor::NonMember => cases.non_member,
        Actor::Blocked => cases.blocked,
        Actor::RemovedMember => cases.removed_member,
        Actor::OrdinaryMember => cases.ordinary_member,
    }
}

/// Checks one answer against its expectation; `ghost` is the same request
/// aimed at something that does not exist.
fn judge(
    expect: Expect,
    actor: Actor,
    answer: &Answer,
    ghost: Option<&Answer>,
) -> Result<(), String> {
    let what = format!(
        "{actor:?} {}: {} {}",
        answer.label, answer.status, answer.body
    );
    let leaked: Vec<&&str> = SECRETS
        .iter()
        .filter(|secret| answer.body.to_string().contains(**secret))
        .collect();
    if !leaked.is_empty() {
        return Err(format!("{what}: leaks {leaked:?}"));
    }
    match expect {
        Refused(code) => {
            let refused = answer.body["type"] == "error" || (400..500).contains(&answer.status);
            if !refused || answer.code() != Some(code) {
                return Err(format!("{what}: expected {code}"));
            }
            if code == ErrorCode::NotFound
                && let Some(ghost) = ghost
                && (ghost.status, &ghost.body) != (answer.status, &answer.body)
            {
                return Err(format!(
                    "{what}: differs from the answer about nothing: {} {}",
                    ghost.status, ghost.body
                ));
            }
        }
        OwnOnly | Silent => {
            if answer.code().is_some() {
                return Err(format!("{what}: expected to be allowed"));
            }
        }
        Na(reason) => assert!(!reason.is_empty()),
    }
    Ok(())
}

/// Records a failure when a probe changed what alice or bob see, and moves
/// the baseline so that later probes are judged on their own.
async fn check_unchanged(
    world: &World,
    before: &mut serde_json::Value,
    actor: Actor,
    answer: &Answer,
    failures: &mut Vec<String>,
) -> anyhow::Result<()> {
    let after = world.fingerprint().await?;
    if after != *before {
        failures.push(format!(
            "{actor:?} {}: changed what alice or bob see",
            answer.label
        ));
        *before = after;
    }
    Ok(())
}

#[tokio::test]
async fn every_route_and_frame_refuses_whoever_must_not_get_through() -> anyhow::Result<()> {
    let world = World::build().await?;
    let mut before = world.fingerprint().await?;
    let mut failures = Vec::new();
    let mut tried = 0;
    for (endpoint, cases) in http_table() {
        for actor in ACTORS {
            let expect = expectation(&cases, actor, endpoint.auth);
            if matches!(expect, Na(_)) {
                continue;
            }
            let answer = world.call(endpoint, actor, false).await?;
            let ghost = world.call(endpoint, actor, true).await?;
            tried += 1;
            if let Err(failure) = judge(expect, actor, &answer, Some(&ghost)) {
                failures.push(failure);
            }
            check_unchanged(&world, &mut before, actor, &answer, &mut failures).await?;
        }
    }
    for (kind, cases) in ws_table() {
        for actor in ACTORS {
            let expect = match (kind, actor) {
                // `auth` is how a token is given: without one it is malformed.
                ("auth", Actor::NoToken) => Refused(ErrorCode::InvalidRequest),
                // Without a session, every frame before `auth` is refused.
                (_, Actor::NoToken) => Refused(ErrorCode::AuthRequired),
                ("auth", Actor::RevokedToken) => Refused(ErrorCode::Unauthorized),
                // A revoked token never gets past `auth` (checked in its row).
                (_, Actor::RevokedToken) => continue,
                _ => expectation(&cases, actor, true),
            };
            if matches!(expect, Na(_)) {
                continue;
            }
            let answer = world.call_ws(kind, actor, false).await?;
            let ghost = world.call_ws(kind, actor, true).await?;
            tried += 1;
            // The ghost's frame names another conversation id; compare the rest.
            let mut ghost_body = ghost.body.clone();
            ghost_body["id"] = answer.body["id"].clone();
            let ghost = Answer {
                body: ghost_body,
                ..ghost
            };
            if let Err(failure) = judge(expect, actor, &answer, Some(&ghost)) {
                failures.push(failure);
            }
            check_unchanged(&world, &mut before, actor, &answer, &mut failures).await?;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {tried} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tried >= 100, "only {tried} probes");
    eprintln!(
        "authorization table: {} routes and {} frame types, {tried} probes (each also aimed at a missing target), all refused as their row says",
        http_table().len(),
        ws_table().len()
    );
    Ok(())
}

#[test]
fn every_route_and_frame_has_a_row() {
    let table: BTreeSet<(&str, &str)> = http_table()
        .iter()
        .map(|(e, _)| (e.method.as_str(), e.path))
        .collect();
    for endpoint in ALL_ENDPOINTS {
        assert!(
            table.contains(&(endpoint.method.as_str(), endpoint.path)),
            "{} {} has no row in the authorization table",
            endpoint.method.as_str(),
            endpoint.path
        );
    }
    assert_eq!(table.len(), http_table().len(), "a route has two rows");
    let frames: BTreeSet<&str> = ws_table().iter().map(|(kind, _)| *kind).collect();
    for kind in ClientRequest::TYPES {
        assert!(
            frames.contains(kind),
            "frame `{kind}` has no row in the authorization table"
        );
    }
    // Every route the server registers is one of ALL_ENDPOINTS: each `.route(`
    // names an endpoint constant's path (or one of the three routes outside
    // the API), and the methods registered add up to the endpoint count.
    let mut registrations = 0;
    for file in rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let Ok(source) = std::fs::read_to_string(&file) else {
            panic!("cannot read {}", file.display());
        };
        for call in source.split(".route(").skip(1) {
            let call = call_arguments(call);
            let (path, methods) = call.split_once(',').unwrap_or((call, ""));
            let path = path.trim();
            if ["WS_PATH", "\"/healthz\"", "openapi::PATH"].contains(&path) {
                continue;
            }
            assert!(
                path.ends_with(".path")
                    && path
                        .chars()
                        .all(|c| c.is_alphanumeric() || "_:.".contains(c)),
                "{}: `.route({path}, ..)` must use an endpoint constant from natter-protocol",
                file.display()
            );
            registrations += ["get(", "post(", "put(", "patch(", "delete("]
                .iter()
                .map(|m| methods.matches(m).count())
                .sum::<usize>();
        }
    }
    assert_eq!(
        registrations,
        ALL_ENDPOINTS.len(),
        "the router registers a method that is not in ALL_ENDPOINTS (or the reverse)"
    );
}

/// The text of a call's arguments, up to its closing parenthesis.
fn call_arguments(after_open: &str) -> &str {
    let mut depth = 1;
    for (at, c) in after_open.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &after_open[..at];
                }
            }
            _ => {}
        }
    }
    after_open
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}
