//! The glob matcher (KEYS, SCAN MATCH, CONFIG GET, and every PUBLISH against
//! each subscribed pattern).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ringbus::glob::matches;

fn glob(c: &mut Criterion) {
    let mut group = c.benchmark_group("glob");
    let cases: [(&str, &[u8], &[u8]); 7] = [
        ("literal", b"news.sports.football", b"news.sports.football"),
        ("star_suffix", b"news.*", b"news.sports.football"),
        ("star_middle", b"news.*.football", b"news.sports.football"),
        ("class_and_any", b"user:[0-9]?:*", b"user:42:profile"),
        ("miss", b"orders.*.paid", b"news.sports.football"),
        // pubsub-load's pattern scenario: a prefix, a class, a star.
        ("prefix_class_star", b"load.[p42]*", b"load.patterns"),
        ("prefix_miss", b"orders.[0-9]*", b"news.sports.football"),
    ];
    for (name, pattern, text) in cases {
        group.bench_function(name, |b| {
            b.iter(|| matches(black_box(pattern), black_box(text), false))
        });
    }
    let pathological = "a*".repeat(30) + "b";
    let long_text = "a".repeat(1000);
    group.bench_function("pathological", |b| {
        b.iter(|| {
            matches(
                black_box(pathological.as_bytes()),
                black_box(long_text.as_bytes()),
                false,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, glob);
criterion_main!(benches);
