//! RESP hot paths: parsing a pipelined batch of requests and encoding replies.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringbus::resp::{Out, Parsed, Proto, RequestParser};

fn pipeline(n: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:08}");
        buf.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nxyz\r\n",
                key.len()
            )
            .as_bytes(),
        );
    }
    buf
}

fn parse(c: &mut Criterion) {
    let input = pipeline(16);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(16));
    group.bench_function("multibulk_set_x16", |b| {
        let mut parser = RequestParser::new(512 << 20);
        b.iter(|| {
            let mut pos = 0;
            let mut args = 0;
            while let Ok(Parsed::Request { consumed }) = parser.parse(&input[pos..], true) {
                args += parser.args(&input[pos..]).len();
                pos += consumed;
            }
            black_box(args)
        })
    });
    let inline = b"SET key:00000001 xyz\r\n".repeat(16);
    group.bench_function("inline_set_x16", |b| {
        let mut parser = RequestParser::new(512 << 20);
        b.iter(|| {
            let mut pos = 0;
            while let Ok(Parsed::Request { consumed }) = parser.parse(&inline[pos..], true) {
                black_box(parser.args(&inline[pos..]).len());
                pos += consumed;
            }
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(16));
    for proto in [Proto::Resp2, Proto::Resp3] {
        group.bench_function(format!("mixed_x16_{proto:?}"), |b| {
            let mut out = Out::new(proto);
            b.iter(|| {
                out.buf.clear();
                for i in 0..4 {
                    out.ok();
                    out.bulk(b"some value bytes");
                    out.int(black_box(i * 1_000_003));
                    out.null();
                }
                black_box(out.buf.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse, encode);
criterion_main!(benches);
