//! monoio 0.2.4 I/O loop. Ring flags come from
//! `RuntimeBuilder::<IoUringDriver>::uring_builder(io_uring::IoUring::builder())`.
//!
//! Usage: `spike-monoio PORT [VARIANT]` or `spike-monoio selftest [VARIANT]`,
//! VARIANT = `default` or `+`-joined tokens:
//!   coop   -> IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
//!   single -> IORING_SETUP_SINGLE_ISSUER
//!   defer  -> IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
//!   timer  -> wrap the driver in monoio's TimeDriver (needed for monoio::time)
use std::{cell::RefCell, future::Future, rc::Rc};

use monoio::{
    buf::IoBufMut,
    io::{AsyncReadRent, AsyncWriteRentExt},
    net::{ListenerOpts, TcpListener, TcpStream},
    IoUringDriver, RuntimeBuilder,
};
use runtime_spike::{args, compact, is_selftest, Session, Store, READ_BUF};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let (port, variant) = args();
    let mut uring = io_uring::IoUring::builder();
    let mut timer = is_selftest();
    for token in variant.split('+') {
        match token {
            "default" => {}
            "coop" => {
                uring.setup_coop_taskrun().setup_taskrun_flag();
            }
            "single" => {
                uring.setup_single_issuer();
            }
            "defer" => {
                uring.setup_single_issuer().setup_defer_taskrun();
            }
            "timer" => timer = true,
            other => panic!("unknown variant token {other}"),
        }
    }
    monoio::utils::bind_to_cpu_set([0]).expect("pin to CPU 0");
    let builder = RuntimeBuilder::<IoUringDriver>::new()
        .with_entries(1024)
        .uring_builder(uring);
    if timer {
        let mut rt = builder.enable_timer().build().expect("monoio runtime");
        rt.block_on(run(port));
    } else {
        let mut rt = builder.build().expect("monoio runtime");
        rt.block_on(run(port));
    }
}

fn run(port: u16) -> impl Future<Output = ()> {
    async move {
        if is_selftest() {
            return runtime_spike::selftest::run("monoio", monoio::time::sleep).await;
        }
        // ListenerOpts::default() already sets SO_REUSEPORT + SO_REUSEADDR.
        let opts = ListenerOpts::new().reuse_port(true).backlog(1024);
        let listener = TcpListener::bind_with_config(("127.0.0.1", port), &opts).expect("bind");
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
            monoio::spawn(serve(stream, store.clone()));
        }
    }
}

async fn serve(mut stream: TcpStream, store: Rc<RefCell<Store>>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(READ_BUF);
    let mut out = Vec::with_capacity(READ_BUF);
    let mut session = Session::default();
    loop {
        // Read into the spare capacity: SliceMut::set_init bumps the Vec's len.
        let (len, cap) = (buf.len(), buf.capacity());
        let (res, slice) = stream.read(buf.slice_mut(len..cap)).await;
        buf = slice.into_inner();
        if res? == 0 {
            return Ok(());
        }
        let result = session.process(&buf, &mut store.borrow_mut(), &mut out);
        if !out.is_empty() {
            let (res, o) = stream.write_all(out).await;
            out = o;
            res?;
            out.clear();
        }
        let consumed = result.map_err(|_| std::io::ErrorKind::InvalidData)?;
        compact(&mut buf, consumed);
    }
}
