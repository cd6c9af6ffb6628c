//! compio 0.19 I/O loop. Ring flags come from `compio::driver::ProactorBuilder`
//! passed to `compio::runtime::RuntimeBuilder::with_proactor`.
//!
//! Usage: `spike-compio PORT [VARIANT]` or `spike-compio selftest [VARIANT]`,
//! VARIANT = `default` or `+`-joined tokens:
//!   coop   -> IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
//!   single -> IORING_SETUP_SINGLE_ISSUER
//!   defer  -> IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
use std::{cell::RefCell, collections::HashSet, rc::Rc};

use compio::{
    buf::BufResult,
    driver::ProactorBuilder,
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    runtime::RuntimeBuilder,
};
use runtime_spike::{args, compact, is_selftest, reuseport_listener, Session, Store, READ_BUF};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let (port, variant) = args();
    let mut proactor = ProactorBuilder::new();
    for token in variant.split('+') {
        match token {
            "default" => {}
            "coop" => {
                proactor.coop_taskrun(true).taskrun_flag(true);
            }
            "single" => {
                proactor.single_issuer(true);
            }
            "defer" => {
                proactor.single_issuer(true).defer_taskrun(true);
            }
            other => panic!("unknown variant token {other}"),
        }
    }
    let runtime = RuntimeBuilder::new()
        .with_proactor(proactor)
        .thread_affinity(HashSet::from([0]))
        .build()
        .expect("compio runtime");
    runtime.block_on(async move {
        if is_selftest() {
            return runtime_spike::selftest::run("compio", compio::runtime::time::sleep).await;
        }
        let listener =
            TcpListener::from_std(reuseport_listener(port).expect("bind")).expect("listener");
        let store = Rc::new(RefCell::new(Store::new()));
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            compio::runtime::spawn(serve(stream, store.clone())).detach();
        }
    });
}

async fn serve(mut stream: TcpStream, store: Rc<RefCell<Store>>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(READ_BUF);
    let mut out = Vec::with_capacity(READ_BUF);
    let mut session = Session::default();
    loop {
        // `append` reads into the spare capacity (buf[len..cap]) and bumps len.
        let BufResult(res, b) = stream.append(buf).await;
        buf = b;
        if res? == 0 {
            return Ok(());
        }
        let result = session.process(&buf, &mut store.borrow_mut(), &mut out);
        if !out.is_empty() {
            let BufResult(res, o) = stream.write_all(out).await;
            out = o;
            res?;
            out.clear();
        }
        let consumed = result.map_err(|_| std::io::ErrorKind::InvalidData)?;
        compact(&mut buf, consumed);
    }
}
