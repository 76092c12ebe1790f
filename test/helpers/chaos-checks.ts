import type { ChaosApi } from './chaos.js';
import { taskGauge } from './chaos.js';

/** A task the chaos run submitted: its idempotency key, the id the master gave it, and the output it must produce. */
export interface SubmittedTask {
  key: string;
  expected: string;
  body: Record<string, unknown>;
  id?: string;
}

export interface Invariant {
  name: string;
  ok: boolean;
  detail: string;
}

interface StoredTask {
  task_id: string;
  status: string;
  attempts: number;
  result: { output: string } | null;
  events?: Array<{ kind: string; attempt: number | null }>;
}

const FINAL = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const;
const SHOWN = 3;

/** The issue's invariants, each with the numbers behind it. */
export async function checkInvariants(api: ChaosApi, submitted: readonly SubmittedTask[], maxRssMb: number, rssLimitMb: number): Promise<{ invariants: Invariant[]; counts: Record<string, number> }> {
  const listed = await listAll(api);
  const byId = new Map(listed.map((t) => [t.task_id, t]));
  const details = await fetchEach(api, listed.map((t) => t.task_id));
  const counts: Record<string, number> = { submitted: submitted.length, stored: listed.length };
  for (const s of FINAL) counts[s] = listed.filter((t) => t.status === s).length;
  const gauge = await taskGauge(api);
  return {
    counts,
    invariants: [
      oneFinalState(listed, byId),
      noneLost(submitted, byId, listed.length),
      rightOutputs(submitted, byId),
      completedOnce(details, gauge, counts),
      countsAddUp(counts),
      { name: 'master RSS bounded', ok: maxRssMb > 0 && maxRssMb <= rssLimitMb, detail: `max ${maxRssMb} MB (limit ${rssLimitMb} MB)` },
    ],
  };
}

function oneFinalState(listed: readonly StoredTask[], byId: ReadonlyMap<string, StoredTask>): Invariant {
  const notFinal = listed.filter((t) => !(FINAL as readonly string[]).includes(t.status));
  const duplicates = listed.length - byId.size;
  return {
    name: 'every task in exactly one final state',
    ok: notFinal.length === 0 && duplicates === 0,
    detail: `${listed.length - notFinal.length} final, ${notFinal.length} not final${sample(notFinal.map((t) => `${t.task_id}=${t.status}`))}, ${duplicates} listed twice`,
  };
}

function noneLost(submitted: readonly SubmittedTask[], byId: ReadonlyMap<string, StoredTask>, storedCount: number): Invariant {
  const lost = submitted.filter((s) => s.id === undefined || !byId.has(s.id));
  return {
    name: 'no task lost',
    ok: lost.length === 0 && storedCount === submitted.length,
    detail: `${submitted.length - lost.length}/${submitted.length} found, ${storedCount} stored${sample(lost.map((s) => s.key))}`,
  };
}

function rightOutputs(submitted: readonly SubmittedTask[], byId: ReadonlyMap<string, StoredTask>): Invariant {
  let checked = 0;
  const wrong: string[] = [];
  for (const s of submitted) {
    const t = s.id === undefined ? undefined : byId.get(s.id);
    if (t?.status !== 'succeeded') continue;
    checked++;
    if ((t.result?.output ?? '').trim() !== s.expected) wrong.push(`${s.key}: ${JSON.stringify(t.result?.output ?? null).slice(0, 60)}`);
  }
  return { name: 'every succeeded task has the right output', ok: wrong.length === 0, detail: `${checked - wrong.length}/${checked} right${sample(wrong)}` };
}

/**
 * A task's history has exactly one final entry, and the master's own counters
 * of final states (which count transitions) agree with the stored rows: a
 * second completion would show in one or the other.
 */
function completedOnce(details: readonly StoredTask[], gauge: Record<string, number>, counts: Record<string, number>): Invariant {
  const twice = details.filter((t) => (t.events ?? []).filter((e) => (FINAL as readonly string[]).includes(e.kind)).length > 1);
  const gaugeFinal = FINAL.reduce((n, s) => n + (gauge[s] ?? 0), 0);
  const storedFinal = FINAL.reduce((n, s) => n + (counts[s] ?? 0), 0);
  return {
    name: 'no task recorded as completed twice',
    ok: twice.length === 0 && gaugeFinal === storedFinal,
    detail: `${twice.length} with two final entries${sample(twice.map((t) => t.task_id))}; master counts ${gaugeFinal} completions for ${storedFinal} final tasks`,
  };
}

function countsAddUp(counts: Record<string, number>): Invariant {
  const sum = FINAL.reduce((n, s) => n + (counts[s] ?? 0), 0);
  return {
    name: 'the counts add up',
    ok: sum === counts['submitted'] && counts['stored'] === counts['submitted'],
    detail: `${counts['submitted']} submitted = ${FINAL.map((s) => `${counts[s]} ${s}`).join(' + ')} (${sum})`,
  };
}

function sample(items: readonly string[]): string {
  if (items.length === 0) return '';
  return ` (e.g. ${items.slice(0, SHOWN).join(', ')}${items.length > SHOWN ? ', …' : ''})`;
}

async function listAll(api: ChaosApi): Promise<StoredTask[]> {
  const out: StoredTask[] = [];
  let before = '';
  for (;;) {
    const page = (await api.until('GET', `/api/v1/tasks?limit=1000${before ? `&before=${before}` : ''}`, undefined, 200)) as { tasks: StoredTask[]; next_before: string | null };
    out.push(...page.tasks);
    if (!page.next_before) return out;
    before = page.next_before;
  }
}

/** Each task with its history, eight requests at a time. */
async function fetchEach(api: ChaosApi, ids: readonly string[]): Promise<StoredTask[]> {
  const out: StoredTask[] = [];
  for (let i = 0; i < ids.length; i += 8) {
    const batch = ids.slice(i, i + 8).map((id) => api.until('GET', `/api/v1/tasks/${id}`, undefined, 200) as Promise<StoredTask>);
    out.push(...(await Promise.all(batch)));
  }
  return out;
}
