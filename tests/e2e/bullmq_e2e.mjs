// End-to-end test: a real BullMQ Queue, Workers, FlowProducer and QueueEvents
// process ~300 jobs through the server on PORT.
//
//     node bullmq_e2e.mjs PORT [PREFIX]
//
// PREFIX is BullMQ's key prefix (default `bull`; `{bull}` puts every key of
// every queue in one hash slot, as BullMQ recommends for Redis Cluster).
// BullMQ and ioredis come from the folder named by RINGBUS_E2E_NODE (default
// target/e2e-node, where tests/run.sh installs tests/e2e/bullmq/package-lock.json
// with `npm ci`).
//
// Queues: `e2e` (plain, delayed, retried, failing jobs and the children of
// the flows; a Worker with concurrency 8), `e2e-flow` (the flows' parents and
// one middle level; concurrency 2) and `e2e-prio` (prioritized jobs, added
// before its Worker of concurrency 1 starts, so the processing order is
// checked exactly). Every job's state, result, attempts and timing, every
// QueueEvents completed/failed event and the final getJobCounts are checked.
// Exits 1 with the list of problems on any mismatch, 2 on an unexpected error,
// 3 when the hard timeout passes.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HARD_TIMEOUT_MS = 120_000; // the whole program
const JOBS_TIMEOUT_MS = 60_000; // for every job to finish

const here = dirname(fileURLToPath(import.meta.url));
const nodeDir = resolve(process.env.RINGBUS_E2E_NODE || join(here, '../../target/e2e-node'));
let bullmq, IORedis;
try {
  const require = createRequire(join(nodeDir, 'package.json'));
  bullmq = require('bullmq');
  IORedis = require('ioredis');
} catch (e) {
  console.error(`bullmq_e2e: FAILED: cannot load bullmq/ioredis from ${nodeDir}/node_modules ` +
    `(run \`bash tests/run.sh\`, which installs them with npm ci): ${e.message}`);
  process.exit(2);
}
const { Queue, Worker, FlowProducer, QueueEvents } = bullmq;

const port = Number(process.argv[2]);
const prefix = process.argv[3] || 'bull';
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node bullmq_e2e.mjs PORT [PREFIX]');
  process.exit(2);
}
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const opts = { connection, prefix };

const hardTimer = setTimeout(() => {
  console.error(`bullmq_e2e: FAILED: still running after ${HARD_TIMEOUT_MS / 1000}s ` +
    `(phase: ${phase}); ${progressLine()}`);
  process.exit(3);
}, HARD_TIMEOUT_MS);

let phase = 'start';
let closing = false;
const problems = [];
const problem = (msg) => problems.push(msg);

function fail(msg) {
  console.error(`bullmq_e2e: FAILED: ${msg}`);
  process.exit(1);
}

// An 'error' event (a Redis error reply inside BullMQ, a lost connection) is
// a failure at once: BullMQ would otherwise retry forever.
function watchErrors(name, emitter) {
  emitter.on('error', (err) => {
    if (closing && /Connection is closed/.test(String(err && err.message))) return;
    console.error(`bullmq_e2e: FAILED: ${name} emitted error during ${phase}: ` +
      `${err && err.stack ? err.stack : err}`);
    process.exit(1);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processors

const attempts = new Map(); // job id -> [start times of each attempt, ms]
const prioOrder = []; // e2e-prio job names in the order they ran
const parentSaw = new Map(); // parent job name -> children values it saw

async function mainProcessor(job) {
  const starts = attempts.get(job.id) || [];
  starts.push(Date.now());
  attempts.set(job.id, starts);
  const d = job.data;
  switch (job.name) {
    case 'add':
      if (d.x % 10 === 0) await job.updateProgress({ pct: 50, x: d.x });
      return d.x + d.y;
    case 'concat':
      return d.parts.join(d.sep);
    case 'delayed':
      return { tag: d.tag, ranAfter: Date.now() - job.timestamp };
    case 'flaky':
      // fails its first `failures` attempts, then succeeds
      if (starts.length <= d.failures) throw new Error(`flaky ${d.tag} attempt ${starts.length}`);
      return `${d.tag} ok after ${starts.length} attempts`;
    case 'boom':
      throw new Error(`boom ${d.i}`);
    case 'child':
      await sleep(d.ms);
      return d.value * 10;
    default:
      throw new Error(`unknown job name ${job.name}`);
  }
}

async function flowProcessor(job) {
  // A parent runs only once every child has completed; it sums their results.
  const values = await job.getChildrenValues();
  parentSaw.set(job.data.tag, { values, at: Date.now() });
  const sum = Object.values(values).reduce((a, b) => a + b, 0);
  return sum + (job.data.own || 0);
}

async function prioProcessor(job) {
  prioOrder.push(job.name);
}

// ------------------------------------------------------------------- helpers

let completedEvents, failedEvents, expectedEvents;
function progressLine() {
  if (!completedEvents) return '';
  return `events so far: ${completedEvents.size} completed, ${failedEvents.size} failed ` +
    `of ${expectedEvents} expected`;
}

async function waitFor(desc, cond, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) fail(`timed out after ${timeoutMs / 1000}s waiting for ${desc}; ${progressLine()}`);
    await sleep(50);
  }
}

function eq(desc, got, want) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) problem(`${desc}: got ${g}, expected ${w}`);
}

// ---------------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  const admin = new IORedis(connection);
  watchErrors('admin connection', admin);
  await admin.flushdb();
  const info = await admin.info('server');
  const serverVersion = (/redis_version:(\S+)/.exec(info) || [])[1];
  console.log(`bullmq ${version('bullmq')}, ioredis ${version('ioredis')}, ` +
    `server redis_version ${serverVersion}, port ${port}, prefix ${prefix}`);

  const queue = new Queue('e2e', opts);
  const flowQueue = new Queue('e2e-flow', opts);
  const prioQueue = new Queue('e2e-prio', opts);
  const flows = new FlowProducer(opts);
  for (const [n, e] of [['queue e2e', queue], ['queue e2e-flow', flowQueue],
    ['queue e2e-prio', prioQueue], ['flow producer', flows]]) watchErrors(n, e);

  // QueueEvents from the start of the (empty) event streams, so that no event
  // is missed whenever their blocking XREAD starts.
  completedEvents = new Map(); // `${queue}/${id}` -> returnvalue
  failedEvents = new Map(); // `${queue}/${id}` -> failedReason
  const duplicateEvents = [];
  const queueEvents = [];
  for (const name of ['e2e', 'e2e-flow', 'e2e-prio']) {
    const qe = new QueueEvents(name, { ...opts, lastEventId: '0-0', blockingTimeout: 1000 });
    watchErrors(`queue events ${name}`, qe);
    qe.on('completed', ({ jobId, returnvalue }) => {
      const k = `${name}/${jobId}`;
      if (completedEvents.has(k)) duplicateEvents.push(`completed ${k}`);
      completedEvents.set(k, returnvalue);
    });
    qe.on('failed', ({ jobId, failedReason }) => {
      const k = `${name}/${jobId}`;
      if (failedEvents.has(k)) duplicateEvents.push(`failed ${k}`);
      failedEvents.set(k, failedReason);
    });
    queueEvents.push(qe);
  }
  await Promise.all(queueEvents.map((qe) => qe.waitUntilReady()));

  // ---- add every job (no worker runs yet)
  phase = 'adding jobs';
  const expected = []; // { queue, job, state, check(job) }
  const expect = (q, job, state, check) => expected.push({ q, job, state, check });

  // 1. plain jobs: 100 `add` (60 one by one, 40 in one addBulk), 40 `concat`
  for (let i = 0; i < 60; i++) {
    const job = await queue.add('add', { x: i, y: 2 * i });
    expect('e2e', job, 'completed', (j) => {
      eq(`add ${j.id} result`, j.returnvalue, 3 * i);
      if (i % 10 === 0) eq(`add ${j.id} progress`, j.progress, { pct: 50, x: i });
    });
  }
  const bulk = await queue.addBulk(Array.from({ length: 40 }, (_, k) => ({
    name: 'add', data: { x: 60 + k, y: 1 },
  })));
  bulk.forEach((job, k) => expect('e2e', job, 'completed', (j) => eq(`addBulk ${j.id} result`, j.returnvalue, 61 + k)));
  for (let i = 0; i < 40; i++) {
    const parts = Array.from({ length: 1 + (i % 4) }, (_, k) => `p${i}.${k}`);
    const job = await queue.add('concat', { parts, sep: i % 2 ? '/' : '-' }, { jobId: `concat-${i}` });
    expect('e2e', job, 'completed', (j) => eq(`concat ${j.id} result`, j.returnvalue, parts.join(i % 2 ? '/' : '-')));
  }
  // A duplicate custom jobId is ignored: still one job, with the first data.
  const dup = await queue.add('concat', { parts: ['dup'], sep: '' }, { jobId: 'concat-0' });
  eq('duplicate jobId concat-0', dup.id, 'concat-0');

  // 2. delayed jobs: 20 with delays 300..1250 ms
  for (let i = 0; i < 20; i++) {
    const delay = 300 + 50 * i;
    const job = await queue.add('delayed', { tag: `d${i}` }, { delay });
    expect('e2e', job, 'completed', (j) => {
      eq(`delayed ${j.id} tag`, j.returnvalue && j.returnvalue.tag, `d${i}`);
      if (!(j.processedOn - j.timestamp >= delay)) {
        problem(`delayed ${j.id}: processed ${j.processedOn - j.timestamp} ms after being added, delay ${delay} ms`);
      }
    });
  }

  // 3. retried until they succeed: exponential backoff (fail twice) and fixed
  // backoff (fail once); the gaps between attempts must honour the backoff.
  const retried = [];
  for (let i = 0; i < 20; i++) {
    const exp = i % 2 === 0;
    const failures = exp ? 2 : 1;
    const backoff = exp ? { type: 'exponential', delay: 100 } : { type: 'fixed', delay: 150 };
    const job = await queue.add('flaky', { tag: `f${i}`, failures }, { attempts: 4, backoff });
    retried.push(job.id);
    expect('e2e', job, 'completed', (j) => {
      eq(`flaky ${j.id} result`, j.returnvalue, `f${i} ok after ${failures + 1} attempts`);
      eq(`flaky ${j.id} attemptsMade`, j.attemptsMade, failures + 1);
      const starts = attempts.get(j.id) || [];
      eq(`flaky ${j.id} attempts run`, starts.length, failures + 1);
      for (let a = 1; a < starts.length; a++) {
        const want = exp ? 100 * 2 ** (a - 1) : 150;
        if (starts[a] - starts[a - 1] < want - 2) {
          problem(`flaky ${j.id}: attempt ${a + 1} ran ${starts[a] - starts[a - 1]} ms after attempt ${a}, backoff ${want} ms`);
        }
      }
    });
  }

  // 4. failing for good: 10 exhaust 3 attempts (fixed backoff 50 ms), 10 have one
  for (let i = 0; i < 20; i++) {
    const tries = i < 10 ? 3 : 1;
    const jobOpts = tries > 1 ? { attempts: tries, backoff: { type: 'fixed', delay: 50 } } : {};
    const job = await queue.add('boom', { i }, jobOpts);
    expect('e2e', job, 'failed', (j) => {
      eq(`boom ${j.id} failedReason`, j.failedReason, `boom ${i}`);
      eq(`boom ${j.id} attemptsMade`, j.attemptsMade, tries);
      eq(`boom ${j.id} attempts run`, (attempts.get(j.id) || []).length, tries);
      if (!Array.isArray(j.stacktrace) || j.stacktrace.length !== tries) {
        problem(`boom ${j.id}: ${j.stacktrace && j.stacktrace.length} stack traces, expected ${tries}`);
      }
    });
  }

  // 5. flows: 8 parents on e2e-flow, each with 4 children on e2e; the last
  // one also has a middle parent (on e2e-flow) with 3 children of its own.
  const flowTrees = [];
  for (let f = 0; f < 8; f++) {
    const children = Array.from({ length: 4 }, (_, c) => ({
      name: 'child', queueName: 'e2e', data: { value: f * 10 + c, ms: (c * 7) % 20 },
    }));
    let want = children.reduce((a, c) => a + c.data.value * 10, 0);
    if (f === 7) {
      const grand = Array.from({ length: 3 }, (_, g) => ({
        name: 'child', queueName: 'e2e', data: { value: 100 + g, ms: 5 },
      }));
      const midWant = grand.reduce((a, c) => a + c.data.value * 10, 0) + 1;
      children.push({ name: 'middle', queueName: 'e2e-flow', data: { tag: 'mid7', own: 1 }, children: grand });
      want += midWant;
    }
    const tree = await flows.add({
      name: 'parent', queueName: 'e2e-flow', data: { tag: `flow${f}`, own: f }, children,
    });
    flowTrees.push({ tree, want: want + f, tag: `flow${f}` });
  }
  const flowJobs = []; // every job of every tree, parents first
  const walk = (node, parent) => {
    flowJobs.push({ node, parent });
    (node.children || []).forEach((c) => walk(c, node));
  };
  flowTrees.forEach(({ tree }) => walk(tree, null));
  for (const { node } of flowJobs) {
    const job = node.job;
    const q = job.queueName;
    if (job.name === 'child') {
      expect(q, job, 'completed', (j) => eq(`flow child ${j.id} result`, j.returnvalue, job.data.value * 10));
    } else {
      const tag = job.data.tag;
      const kids = node.children.map((c) => c.job);
      const top = flowTrees.find((t) => t.tag === tag);
      expect(q, job, 'completed', async (j) => {
        const want = top ? top.want : kids.reduce((a, k) => a + (k.data.value || 0) * 10, 0) + job.data.own;
        eq(`flow ${tag} (${q} ${j.id}) result`, j.returnvalue, want);
        const saw = parentSaw.get(tag);
        if (!saw) return problem(`flow ${tag}: the parent processor did not run`);
        eq(`flow ${tag}: children values seen`, Object.keys(saw.values).length, kids.length);
        for (const k of kids) {
          const kj = await (k.queueName === 'e2e' ? queue : flowQueue).getJob(k.id);
          if (!kj || !(kj.finishedOn <= saw.at)) {
            problem(`flow ${tag}: parent ran at ${saw.at} before child ${k.queueName}/${k.id} finished (${kj && kj.finishedOn})`);
          }
        }
      });
    }
  }

  // 6. prioritized: 40 jobs on e2e-prio with priorities 1..5 in a scrambled
  // order, plus 5 without priority (those run first, FIFO); the rest run by
  // priority, FIFO within one.
  const prioJobs = [];
  for (let i = 0; i < 45; i++) {
    const priority = i % 9 === 4 ? 0 : 1 + ((i * 7) % 5);
    const job = await prioQueue.add(`p${i}`, { i }, priority ? { priority } : {});
    prioJobs.push({ i, priority, name: `p${i}` });
    expect('e2e-prio', job, 'completed', () => {});
  }
  const wantOrder = [...prioJobs]
    .sort((a, b) => (a.priority - b.priority) || (a.i - b.i))
    .map((p) => p.name);

  const mainJobs = expected.filter((e) => e.q === 'e2e').length;
  eq('counts after adding (e2e)', await queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed'),
    { waiting: mainJobs - 20, delayed: 20, active: 0, completed: 0, failed: 0 });
  eq('counts after adding (e2e-flow)', await flowQueue.getJobCounts('waiting', 'waiting-children'),
    { waiting: 0, 'waiting-children': 9 });
  eq('counts after adding (e2e-prio)', await prioQueue.getJobCounts('waiting', 'prioritized'),
    { waiting: 5, prioritized: 40 });

  // ---- run the workers
  phase = 'processing';
  const processing = Date.now();
  const workers = [
    new Worker('e2e', mainProcessor, { ...opts, concurrency: 8 }),
    new Worker('e2e-flow', flowProcessor, { ...opts, concurrency: 2 }),
    new Worker('e2e-prio', prioProcessor, { ...opts, concurrency: 1 }),
  ];
  workers.forEach((w, k) => watchErrors(`worker ${['e2e', 'e2e-flow', 'e2e-prio'][k]}`, w));

  expectedEvents = expected.length;
  const finished = async () => {
    const [a, b, c] = await Promise.all([
      queue.getJobCounts('completed', 'failed'),
      flowQueue.getJobCounts('completed', 'failed'),
      prioQueue.getJobCounts('completed', 'failed'),
    ]);
    return a.completed + a.failed + b.completed + b.failed + c.completed + c.failed === expected.length;
  };
  await waitFor('every job to complete or fail', finished, JOBS_TIMEOUT_MS);
  const processed = Date.now();
  await waitFor('a completed or failed event for every job',
    async () => completedEvents.size + failedEvents.size >= expected.length, 10_000);

  // ---- check every job
  phase = 'checking';
  const queues = { e2e: queue, 'e2e-flow': flowQueue, 'e2e-prio': prioQueue };
  for (const { q, job, state, check } of expected) {
    const j = await queues[q].getJob(job.id);
    if (!j) {
      problem(`${q}/${job.id} (${job.name}): job missing`);
      continue;
    }
    const got = await j.getState();
    if (got !== state) {
      problem(`${q}/${job.id} (${job.name}): state ${got}, expected ${state} (failedReason ${j.failedReason})`);
      continue;
    }
    await check(j);
    const k = `${q}/${job.id}`;
    if (state === 'completed') {
      if (!completedEvents.has(k)) problem(`${k} (${job.name}): no completed event`);
      else eq(`${k} completed event returnvalue`, completedEvents.get(k), j.returnvalue);
      if (failedEvents.has(k)) problem(`${k} (${job.name}): unexpected failed event ${failedEvents.get(k)}`);
    } else {
      if (!failedEvents.has(k)) problem(`${k} (${job.name}): no failed event`);
      else eq(`${k} failed event reason`, failedEvents.get(k), j.failedReason);
      if (completedEvents.has(k)) problem(`${k} (${job.name}): unexpected completed event`);
    }
  }
  const keys = new Set(expected.map(({ q, job }) => `${q}/${job.id}`));
  for (const k of [...completedEvents.keys(), ...failedEvents.keys()]) {
    if (!keys.has(k)) problem(`event for unknown job ${k}`);
  }
  duplicateEvents.forEach((d) => problem(`duplicate event: ${d}`));
  eq('e2e-prio processing order', prioOrder, wantOrder);
  eq('concat-0 data (duplicate jobId ignored)', (await queue.getJob('concat-0')).data.parts, ['p0.0']);

  const mainFailed = 20;
  const counts = {
    e2e: [await queue.getJobCounts(), { completed: mainJobs - mainFailed, failed: mainFailed }],
    'e2e-flow': [await flowQueue.getJobCounts(), { completed: 9, failed: 0 }],
    'e2e-prio': [await prioQueue.getJobCounts(), { completed: 45, failed: 0 }],
  };
  for (const [name, [got, want]] of Object.entries(counts)) {
    for (const [state, n] of Object.entries(got)) {
      const w = want[state] || 0;
      if (n !== w) problem(`getJobCounts ${name}: ${state} ${n}, expected ${w}`);
    }
  }

  // ---- close everything
  phase = 'closing';
  closing = true;
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(queueEvents.map((qe) => qe.close()));
  await Promise.all([queue.close(), flowQueue.close(), prioQueue.close(), flows.close()]);
  await admin.quit();

  if (problems.length) {
    fail(`${problems.length} problems:\n  ${problems.slice(0, 40).join('\n  ')}`);
  }
  const done = Date.now();
  const children = flowJobs.filter(({ node }) => node.job.name === 'child').length;
  console.log(`bullmq_e2e: OK: ${expected.length} jobs (${mainJobs - mainFailed} completed on e2e incl. ` +
    `20 retried, 20 delayed and ${children} flow children; ${mainFailed} failed; ` +
    `${flowJobs.length - children} flow parents; 45 prioritized in order), ` +
    `${completedEvents.size + failedEvents.size} events; adding ${(processing - started) / 1000}s, ` +
    `processing ${(processed - processing) / 1000}s, checks and close ${(done - processed) / 1000}s`);
  clearTimeout(hardTimer);
}

// The installed version of a package, for the log.
function version(pkg) {
  try {
    return JSON.parse(readFileSync(join(nodeDir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

main().catch((e) => {
  console.error(`bullmq_e2e: FAILED: unexpected error during ${phase}: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
