// BullMQ throughput for benches/jobs-vs-redis.sh.
//
//     node benches/bullmq-load.mjs PORT PREFIX JOBS CONCURRENCY SERVER_PID
//
// Empties the server (FLUSHALL), then: a Queue adds JOBS jobs with one
// addBulk (each with removeOnComplete: true); then a Worker with CONCURRENCY
// and a no-op processor, connected beforehand, runs until it has completed
// them all. Checks that every job completed (none left waiting, active,
// delayed or failed) and prints one line:
//
//     JOBS ADD_SECONDS PROCESS_SECONDS SERVER_TICKS
//
// SERVER_TICKS: utime + stime of SERVER_PID (from /proc/PID/stat, in clock
// ticks) over the processing phase. BullMQ and ioredis come from
// RINGBUS_E2E_NODE (default target/e2e-node, see tests/e2e/setup.sh).
// Exits 1 with a message on a check failure or a BullMQ error, 3 after 300 s.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeDir = resolve(process.env.RINGBUS_E2E_NODE || join(here, '../target/e2e-node'));
const require = createRequire(join(nodeDir, 'package.json'));
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const [port, prefix, jobs, concurrency, serverPid] = [
  Number(process.argv[2]), process.argv[3], Number(process.argv[4]), Number(process.argv[5]),
  Number(process.argv[6]),
];
if (!port || !prefix || !jobs || !concurrency || !serverPid) {
  console.error('usage: node bullmq-load.mjs PORT PREFIX JOBS CONCURRENCY SERVER_PID');
  process.exit(2);
}
setTimeout(() => {
  console.error('bullmq-load: still running after 300 s');
  process.exit(3);
}, 300_000).unref();

const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
let closing = false;
function onError(name) {
  return (err) => {
    if (closing) return;
    console.error(`bullmq-load: ${name} error: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  };
}

function serverTicks() {
  const stat = readFileSync(`/proc/${serverPid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
}

const admin = new IORedis(connection);
admin.on('error', onError('admin'));
await admin.flushall();

const queue = new Queue('bench', { connection, prefix });
queue.on('error', onError('queue'));
let completed = 0;
let allDone;
const done = new Promise((r) => { allDone = r; });
const worker = new Worker('bench', async () => {}, { connection, prefix, concurrency, autorun: false });
worker.on('error', onError('worker'));
worker.on('failed', (job, err) => onError('job')(`${job && job.id} failed: ${err}`));
worker.on('completed', () => {
  if (++completed === jobs) allDone();
});
await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);

const bulk = Array.from({ length: jobs }, (_, i) => ({
  name: 'noop', data: { i }, opts: { removeOnComplete: true },
}));
const t0 = process.hrtime.bigint();
const added = await queue.addBulk(bulk);
const t1 = process.hrtime.bigint();
if (added.length !== jobs) onError('addBulk')(`added ${added.length} jobs, expected ${jobs}`);

const ticks0 = serverTicks();
const t2 = process.hrtime.bigint();
const running = worker.run();
await done;
const t3 = process.hrtime.bigint();
const ticks1 = serverTicks();

const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
if (Object.values(counts).some((n) => n !== 0)) {
  onError('counts')(`after ${completed} completions: ${JSON.stringify(counts)}, expected all 0`);
}
closing = true;
await worker.close();
await running;
await queue.close();
await admin.quit();
const secs = (a, b) => (Number(b - a) / 1e9).toFixed(6);
console.log(`${jobs} ${secs(t0, t1)} ${secs(t2, t3)} ${ticks1 - ticks0}`);
