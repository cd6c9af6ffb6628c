use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringbus::types::stream_tree::{StreamId, StreamTree};
use std::hint::black_box;

fn filled(n: u64) -> StreamTree {
    let mut t = StreamTree::new();
    for i in 0..n {
        t.append(StreamId::new(i, 0), &[(b"f", b"0123456789")])
            .unwrap();
    }
    t
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream_tree");
    g.throughput(Throughput::Elements(1));
    g.bench_function("append", |b| {
        let mut t = StreamTree::new();
        let mut i = 0u64;
        b.iter(|| {
            t.append(StreamId::new(i, 0), &[(b"f", b"0123456789")])
                .unwrap();
            i += 1;
            if i.is_multiple_of(1_000_000) {
                t.trim_maxlen(0, false, 0);
            }
        })
    });
    let t = filled(1_000_000);
    let r = t.reader();
    g.throughput(Throughput::Elements(100));
    let mut k = 0u64;
    g.bench_function("range_100", |b| {
        b.iter(|| {
            k = (k + 7_919) % 999_000;
            black_box(r.range(StreamId::new(k, 0), StreamId::MAX, Some(100)))
        })
    });
    g.bench_function("rev_range_100", |b| {
        b.iter(|| {
            k = (k + 7_919) % 999_000;
            black_box(r.rev_range(StreamId::new(k + 100, 0), StreamId::MIN, Some(100)))
        })
    });
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("trim_maxlen_exact_100k_of_200k", |b| {
        b.iter_batched(
            || filled(200_000),
            |mut t| black_box(t.trim_maxlen(100_000, false, 0)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("trim_maxlen_approx_100k_of_200k", |b| {
        b.iter_batched(
            || filled(200_000),
            |mut t| black_box(t.trim_maxlen(100_000, true, 0)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
