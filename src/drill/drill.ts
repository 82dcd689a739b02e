/**
 * Runs script files against a target and reports in packetdrill's style:
 * one line per script, the first failure with its file:line, expected and
 * actual values, and the decoded packet. Used by `usnet drill` and tests.
 */
import { dirname, resolve } from 'node:path';
import type { Script } from './ast.js';
import { applyScriptOptions, type DrillConfig } from './config.js';
import { DrillParseError } from './lexer.js';
import { PcapWriter } from './pcap-writer.js';
import { loadScript, Runner, type ScriptResult } from './runner.js';
import type { Target } from './target.js';

export type TargetName = 'usnet' | 'kernel';

/** A fresh target of the given kind (the kernel target is loaded on demand: it needs root and TUN). */
export async function createTarget(name: TargetName): Promise<Target> {
  if (name === 'usnet') {
    const m = await import('./usnet-target.js');
    return m.createUsnetTarget();
  }
  if (name === 'kernel') {
    const m = await import('./kernel/kernel-target.js');
    return m.createKernelTarget();
  }
  throw new Error(`unknown target '${name}' (usnet or kernel)`);
}

export interface DrillOptions {
  target: TargetName;
  /** base configuration (command line applied); each script gets a copy with its own options */
  config: DrillConfig;
  /** write a pcap per script: FILE for one script, FILE with the script name inserted otherwise */
  pcap?: string | null;
  /** progress output (defaults to nothing) */
  out?: (line: string) => void;
  /** a different target factory (tests) */
  makeTarget?: () => Target | Promise<Target>;
}

export interface DrillSummary {
  results: ScriptResult[];
  passed: number;
  failed: number;
  /** scripts not run on this target because of a usnet-only / kernel-only marker */
  notRun: number;
}

function pcapPath(base: string, file: string, many: boolean): string {
  if (!many) return base;
  const name = file.replace(/^.*\//, '').replace(/\.pkt$/, '');
  return base.replace(/(\.pcap)?$/, `-${name}.pcap`);
}

function cloneConfig(c: DrillConfig): DrillConfig {
  return { ...c, defines: { ...c.defines }, explicit: new Set(c.explicit) };
}

export async function runOne(file: string, opts: DrillOptions, many = false): Promise<ScriptResult> {
  const cfg = cloneConfig(opts.config);
  const base: ScriptResult = { file, ok: false, error: null, skipped: [], log: [], notRun: null };
  let script: Script;
  try {
    script = loadScript(file, cfg.defines);
  } catch (e) {
    base.error = e instanceof DrillParseError ? `${e.message}` : `${file}: ${(e as Error).message}`;
    return base;
  }
  for (const m of script.markers) {
    const other = opts.target === 'usnet' ? 'kernel-only' : 'usnet-only';
    if (m.kind === other) {
      base.ok = true;
      base.notRun = `${m.kind}: ${m.reason}`;
      return base;
    }
  }
  const err = applyScriptOptions(cfg, script.options);
  if (err) {
    base.error = err;
    return base;
  }
  if (cfg.dryRun) {
    base.ok = true;
    base.skipped = script.events
      .filter((e) => e.action.type === 'code')
      .map((e) => `${file}:${e.loc.line}: %{ }% (not run)`);
    return base;
  }
  cfg.cwd = dirname(resolve(file));
  const target = opts.makeTarget ? await opts.makeTarget() : await createTarget(opts.target);
  const pcap = opts.pcap ? new PcapWriter(pcapPath(opts.pcap, file, many)) : null;
  try {
    await target.start(cfg);
    return await new Runner(script, target, cfg, pcap).run();
  } catch (e) {
    base.error = `${file}: ${(e as Error).message}`;
    return base;
  } finally {
    pcap?.close();
    await target.close();
  }
}

export async function runDrill(files: string[], opts: DrillOptions): Promise<DrillSummary> {
  const out = opts.out ?? (() => {});
  const sum: DrillSummary = { results: [], passed: 0, failed: 0, notRun: 0 };
  for (const f of files) {
    const r = await runOne(f, opts, files.length > 1);
    sum.results.push(r);
    if (r.notRun) {
      sum.notRun++;
      out(`SKIP ${f} (${r.notRun})`);
      continue;
    }
    for (const l of r.log) out(l);
    if (r.ok) {
      sum.passed++;
      out(`PASS ${f}${r.skipped.length ? ` (${r.skipped.length} %{ }% block(s) skipped)` : ''}`);
    } else {
      sum.failed++;
      out(`FAIL ${f}`);
      out(r.error ?? 'unknown error');
    }
    for (const s of r.skipped) out(`  ${s}`);
  }
  return sum;
}
