//! glommio 0.9.0 I/O loop. glommio exposes no io_uring setup flags.
//!
//! Usage: `spike-glommio PORT [VARIANT]` or `spike-glommio selftest [VARIANT]`,
//! VARIANT = `default` (stock) or `spin` (spin_before_park 50µs).
use std::{cell::RefCell, rc::Rc, time::Duration};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::{
    net::{TcpListener, TcpStream},
    LocalExecutorBuilder, Placement,
};
use runtime_spike::{args, Session, Store, READ_BUF};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let (port, variant) = args();
    let mut builder = LocalExecutorBuilder::new(Placement::Fixed(0));
    match variant.as_str() {
        "default" => {}
        "spin" => builder = builder.spin_before_park(Duration::from_micros(50)),
        other => panic!("unknown variant {other}"),
    }
    let executor = builder.make().expect("glommio executor");
    executor.run(async move {
        if runtime_spike::is_selftest() {
            return runtime_spike::selftest::run("glommio", glommio::timer::sleep).await;
        }
        // glommio's TcpListener::bind already sets SO_REUSEPORT.
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
        let store = Rc::new(RefCell::new(Store::new()));
        loop {
            let stream = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            glommio::spawn_local(serve(stream, store.clone())).detach();
        }
    });
}

async fn serve(mut stream: TcpStream, store: Rc<RefCell<Store>>) -> std::io::Result<()> {
    // glommio streams take `&mut [u8]`, so the read buffer stays initialised
    // and `filled` tracks how much of it holds data.
    let mut buf = vec![0u8; READ_BUF];
    let mut filled = 0;
    let mut out = Vec::with_capacity(READ_BUF);
    let mut session = Session::default();
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let result = session.process(&buf[..filled], &mut store.borrow_mut(), &mut out);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        let consumed = result.map_err(|_| std::io::ErrorKind::InvalidData)?;
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
}
