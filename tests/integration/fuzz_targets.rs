//! The fuzz targets of `fuzz/` on stable Rust (issue 12, bad input): each runs over its saved
//! corpus (`fuzz/corpus/<target>/`) and over inputs mutated from it with a seeded generator
//! (`ENTRA_MOCK_FUZZ_SEED` to replay, `ENTRA_MOCK_FUZZ_RUNS` for more), against one real
//! in-process entra-mock. A failure names the target, the input (hex) and the broken property.

use entra_mock::fuzzing::{run, Target, TARGETS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Fragments that break parsers: bad percent-encoding and UTF-8, markup, CRLF, separators,
/// numbers at the edges, JSON and JWT shapes.
const TOKENS: &[&[u8]] = &[
    b"%",
    b"%Z",
    b"%ZZ",
    b"%00",
    b"%FF",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\0",
    b"&",
    b"=",
    b"&&==",
    b"\r\n",
    b"%0D%0ALocation:%20http://evil",
    b"<script>alert(1)</script>",
    b"\"><svg onload=x>",
    b"javascript:alert(1)",
    b"https://evil.example/",
    b"//evil.example",
    b"../",
    b"%2e%2e%2f",
    b"9223372036854775807",
    b"-1",
    b"1e400",
    b"NaN",
    b"null",
    b"[]",
    b"{}",
    b"{\"a\":",
    b"\"",
    b"eyJ",
    b".",
    b"..",
    b"common",
    b"organizations",
    b"consumers",
    b"grant_type=",
    b"client_id=00001111-aaaa-2222-bbbb-3333cccc4444",
    b"redirect_uri=",
    b"scope=openid",
    b"response_type=code",
    b"claims=",
    b"prompt=none",
    b"action=",
    b"loginfmt=",
    b"+",
    b" ",
    b"\n%%\n",
    b"POST ",
    b"PATCH ",
    b"DELETE ",
    b"18446744073709551615",
    b"-9223372036854775808",
    b"\"\\u0000\"",
    b"true",
];

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no corpus for {name}");
    inputs
}

fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.gen_range(0..seeds.len())].clone();
    for _ in 0..rng.gen_range(1..6) {
        let at = rng.gen_range(0..=data.len());
        match rng.gen_range(0..6) {
            0 => {
                let t = TOKENS[rng.gen_range(0..TOKENS.len())];
                data.splice(at..at, t.iter().copied());
            }
            1 if !data.is_empty() => {
                let i = rng.gen_range(0..data.len());
                data[i] = rng.gen();
            }
            2 if at < data.len() => {
                let end = rng.gen_range(at..=data.len());
                data.drain(at..end);
            }
            3 => {
                // A long run: huge parameters.
                let b = if rng.gen() { b'a' } else { rng.gen() };
                let n = rng.gen_range(100..20_000);
                data.splice(at..at, std::iter::repeat_n(b, n));
            }
            4 => {
                let other = &seeds[rng.gen_range(0..seeds.len())];
                let from = rng.gen_range(0..=other.len());
                data.splice(at..at, other[from..].iter().copied());
            }
            _ => {
                let n = rng.gen_range(1..64);
                let random: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                data.splice(at..at, random);
            }
        }
    }
    data
}

fn fuzz(name: &str, target: Target) {
    let seed: u64 = std::env::var("ENTRA_MOCK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let runs: usize = std::env::var("ENTRA_MOCK_FUZZ_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    if let Ok(file) = std::env::var("ENTRA_MOCK_FUZZ_REPLAY") {
        // One saved input (from target/fuzz-failures/), for the target whose name it starts with.
        let path = std::path::Path::new(&file);
        if path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with(name))
        {
            let input = std::fs::read(path).unwrap();
            run(target, &input).unwrap_or_else(|broken| panic!("{name}: {broken}"));
        }
        return;
    }
    let seeds = corpus(name);
    let mut rng = StdRng::seed_from_u64(seed);
    let inputs = seeds
        .clone()
        .into_iter()
        .chain((0..runs).map(|_| mutate(&mut rng, &seeds)));
    for input in inputs {
        if let Err(broken) = run(target, &input) {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(format!("{name}-{seed}"));
            std::fs::write(&file, &input).unwrap();
            let shown: String = broken.chars().take(2_000).collect();
            panic!(
                "fuzz target {name} (ENTRA_MOCK_FUZZ_SEED={seed}): {shown}\ninput saved to {}",
                file.display()
            );
        }
    }
}

#[test]
fn every_target_has_a_fuzz_binary_and_a_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for (name, _) in TARGETS {
        assert!(
            root.join(format!("fuzz_targets/{name}.rs")).exists(),
            "{name}"
        );
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{name}");
        corpus(name);
    }
}

#[test]
fn authorize_query() {
    fuzz("authorize_query", Target::AuthorizeQuery);
}

#[test]
fn token_form() {
    fuzz("token_form", Target::TokenForm);
}

#[test]
fn client_assertion() {
    fuzz("client_assertion", Target::ClientAssertion);
}

#[test]
fn bearer_jwt() {
    fuzz("bearer_jwt", Target::BearerJwt);
}

#[test]
fn signin_form() {
    fuzz("signin_form", Target::SigninForm);
}

#[test]
fn fixture() {
    fuzz("fixture", Target::Fixture);
}

#[test]
fn control_api() {
    fuzz("control_api", Target::ControlApi);
}

#[test]
fn the_checks_catch_a_broken_answer() {
    use entra_mock::fuzzing::{check_answer, Answer};
    let base = "http://localhost:1";
    let registered = vec!["http://localhost:5001/auth/callback".to_string()];
    let answer = |status, content_type: &str, location: Option<&str>, body: &str| Answer {
        head: String::new(),
        status,
        content_type: content_type.into(),
        location: location.map(str::to_string),
        body: body.into(),
    };
    for bad in [
        answer(500, "application/json", None, "{}"),
        answer(400, "application/json", None, "{\"error\":\"x\"}"),
        answer(400, "text/html", None, "<p>oops</p>"),
        answer(302, "", Some("https://evil.example/"), ""),
        answer(
            302,
            "",
            Some("http://localhost:5001/auth/callback.evil"),
            "",
        ),
        answer(302, "", Some("http://localhost:1.evil/"), ""),
        answer(302, "", Some("//evil.example/"), ""),
    ] {
        assert!(check_answer(&bad, base, &registered).is_err(), "{bad:?}");
    }
    for good in [
        answer(
            302,
            "",
            Some("http://localhost:5001/auth/callback?code=x"),
            "",
        ),
        answer(302, "", Some("/aaaa/oauth2/v2.0/authorize"), ""),
        answer(200, "text/html", None, "<p>ok</p>"),
    ] {
        assert!(check_answer(&good, base, &registered).is_ok(), "{good:?}");
    }
}
