#!/usr/bin/env python3
"""Connection memory under real load: ringbus against redis-server.

Measures what issue 11 describes, for each server in turn (a fresh server per
scenario, stopped afterwards):

  idle-get     20 connections each GET a 20 MB value once, then sit idle:
               used_memory.
  set-del      20 more connections each SET and DEL a 20 MB value: used_memory
               at once and 10 s later.
  maxmemory    --maxmemory 100mb, one 20 MB key, 4 idle connections GET it
               once: used_memory and the reply to `SET small 1`.
  rejected     --maxmemory 100mb, 60 MB of data, two 40 MB SETs refused with
               OOM: used_memory after each.
  qbuf-limit   --client-query-buffer-limit 1mb: a 2 MB and a 100 MB SET.
               Redis closes the connection; `+OK` means the limit did not hold.
  paced-out    a client pipelines GETs of a 100 KB value for 5 s without
               reading replies: fresh, after SUBSCRIBE/UNSUBSCRIBE, after one
               64 MB SET. Peak RSS of the server.

Usage: benches/conn-memory.py [ringbus-binary] [--threads N]
Prints one table; every figure is MiB unless marked.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

MIB = 1024 * 1024
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, kind, binary, threads, extra):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix=f"connmem-{kind}-", delete=False)
        if kind == "redis":
            argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no"]
        else:
            argv = [binary, "--port", str(self.port), "--threads", str(threads), "--no-pin", "--save="]
        argv += extra
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                c = Conn(self.port)
                if c.cmd("PING") == b"+PONG":
                    c.close()
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{kind} did not start: {open(self.log.name).read()}")

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        os.unlink(self.log.name)

    def info(self, field):
        c = Conn(self.port)
        text = c.cmd("INFO", "memory")
        c.close()
        for line in text.split(b"\r\n"):
            if line.startswith(field.encode() + b":"):
                return int(line.split(b":")[1])
        raise KeyError(field)

    def used_mib(self):
        return self.info("used_memory") / MIB

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(30)
        self.buf = b""

    def close(self):
        self.s.close()

    def _fill(self):
        data = self.s.recv(1 << 20)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if line[:1] == b"*":
            return [self.reply() for _ in range(int(line[1:]))]
        return line

    def cmd(self, *args):
        self.s.sendall(encode(*args))
        return self.reply()


def idle_get_and_set_del(srv):
    value = b"v" * (20 * MIB)
    c = Conn(srv.port)
    c.cmd("SET", "big", value)
    base = srv.used_mib()
    getters = []
    for _ in range(20):
        g = Conn(srv.port)
        assert len(g.cmd("GET", "big")) == len(value)
        getters.append(g)
    time.sleep(0.5)
    after_get = srv.used_mib()
    setters = []
    for i in range(20):
        s = Conn(srv.port)
        s.cmd("SET", f"tmp{i}", value)
        s.cmd("DEL", f"tmp{i}")
        setters.append(s)
    time.sleep(0.5)
    after_set = srv.used_mib()
    time.sleep(10)
    later = srv.used_mib()
    for x in getters + setters + [c]:
        x.close()
    return {"base": base, "idle-get": after_get, "set-del": after_set, "set-del+10s": later}


def maxmemory(srv):
    c = Conn(srv.port)
    c.cmd("SET", "big", b"v" * (20 * MIB))
    getters = []
    for _ in range(4):
        g = Conn(srv.port)
        g.cmd("GET", "big")
        getters.append(g)
    time.sleep(0.5)
    used = srv.used_mib()
    reply = c.cmd("SET", "small", "1")
    for x in getters + [c]:
        x.close()
    return {"maxmemory used": used, "SET small": reply.decode()[:20]}


def rejected(srv):
    c = Conn(srv.port)
    for i in range(3):
        c.cmd("SET", f"fill{i}", b"f" * (20 * MIB))
    first = srv.used_mib()
    out = {"before": first}
    for i in range(2):
        r = c.cmd("SET", "huge", b"h" * (40 * MIB))
        time.sleep(0.3)
        out[f"after rejected #{i + 1}"] = srv.used_mib()
        out[f"reply #{i + 1}"] = r.decode()[:12]
    c.close()
    return out


def qbuf_limit(srv):
    out = {}
    for size in (2 * MIB, 100 * MIB):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.settimeout(20)
        try:
            s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % size + b"v" * size + b"\r\n")
            got = s.recv(100)
        except OSError as e:
            got = f"closed ({e.__class__.__name__})".encode()
        out[f"SET {size // MIB} MB"] = (got.decode().strip() or "closed")[:24]
        s.close()
    return out


def paced_out(srv, prepare):
    c = Conn(srv.port)
    c.cmd("SET", "v100k", b"x" * 100_000)
    p = Conn(srv.port)
    if prepare == "subscribed":
        p.cmd("SUBSCRIBE", "ch")
        p.s.sendall(encode("UNSUBSCRIBE", "ch"))
        p.reply()
    elif prepare == "big-set":
        p.cmd("SET", "big64", b"b" * (64 * MIB))
    base = srv.rss_mib()
    chunk = encode("GET", "v100k") * 10_000
    p.s.setblocking(False)
    peak = base
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            p.s.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
        peak = max(peak, srv.rss_mib())
        if peak - base > 4096:
            break
    p.close()
    c.close()
    return {f"{prepare} peak RSS growth": peak - base}


def run(kind, binary, threads):
    results = {}
    for extra, fn in [
        ([], idle_get_and_set_del),
        (["--maxmemory", "100mb"], maxmemory),
        (["--maxmemory", "100mb"], rejected),
        (["--client-query-buffer-limit", "1mb"], qbuf_limit),
        ([], lambda s: paced_out(s, "fresh")),
        ([], lambda s: paced_out(s, "subscribed")),
        ([], lambda s: paced_out(s, "big-set")),
    ]:
        srv = Server(kind, binary, threads, extra)
        try:
            results.update(fn(srv))
        finally:
            srv.stop()
    return results


def main():
    args = sys.argv[1:]
    threads = 1
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i:i + 2]
    binary = args[0] if args else os.path.join(ROOT, "target/release/ringbus")
    ring = run("ringbus", binary, threads)
    red = run("redis", None, threads)
    print(f"{'measure':32} {'ringbus':>14} {'redis-server':>14}")
    for key in ring:
        a, b = ring[key], red.get(key, "")
        fmt = lambda v: f"{v:14.1f}" if isinstance(v, float) else f"{str(v):>14}"
        print(f"{key:32} {fmt(a)} {fmt(b)}")


if __name__ == "__main__":
    main()
