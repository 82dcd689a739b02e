/**
 * Running a script's backquoted commands in a real shell while `sysctl`,
 * `ss` and `nstat` act on a simulated host.
 *
 * The command runs under /bin/sh with a private directory first on PATH
 * that holds three small wrappers. Each wrapper is a Node process that
 * sends its argv (and tool name) over a Unix socket to the runner, which
 * answers with the tool's stdout, stderr and exit status, computed from the
 * host's live state; so pipelines (`ss -tan | grep ...`), `$(...)`, scripts
 * that call sysctl (`./defaults.sh`) and sequences (`sysctl -w ...; ss`) all
 * see the host as it is at that moment. The runner keeps serving while the
 * shell runs (the child is spawned asynchronously).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShellResult } from './target.js';
import type { ToolResult } from './tools.js';

export type ToolHandler = (tool: string, argv: string[]) => ToolResult;

const CLIENT = `// usnet drill tool client: forwards argv to the runner, prints its answer
import { connect } from 'node:net';
const [tool, ...argv] = process.argv.slice(2);
const sock = connect(process.env.USNET_DRILL_SOCK);
let buf = '';
sock.setEncoding('utf8');
sock.on('connect', () => sock.write(JSON.stringify({ tool, argv }) + '\\n'));
sock.on('data', (d) => { buf += d; });
sock.on('error', (e) => { process.stderr.write(tool + ': usnet drill runner unreachable: ' + e.message + '\\n'); process.exit(127); });
sock.on('end', () => {
  let r;
  try { r = JSON.parse(buf); } catch { process.stderr.write(tool + ': bad answer from runner\\n'); process.exit(127); }
  process.stdout.write(r.stdout, () => process.stderr.write(r.stderr, () => process.exit(r.status)));
});
`;

let unshareOk: boolean | null = null;

/** Whether `unshare -n` works here (root with CAP_SYS_ADMIN), checked once. */
function canUnshareNet(): boolean {
  if (unshareOk === null) {
    unshareOk =
      process.getuid?.() === 0 &&
      existsSync('/usr/bin/unshare') &&
      spawnSync('/usr/bin/unshare', ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  }
  return unshareOk;
}

export class ToolShell {
  private readonly dir: string;
  private readonly sockPath: string;
  private server: Server | null = null;
  private readonly handler: ToolHandler;
  private readonly tools: string[];

  private readonly isolate: boolean;

  constructor(handler: ToolHandler, tools: string[] = ['sysctl', 'ss', 'nstat'], isolate = true) {
    this.handler = handler;
    this.isolate = isolate;
    this.tools = tools;
    this.dir = mkdtempSync(join(tmpdir(), 'usnet-drill-'));
    this.sockPath = join(this.dir, 'tools.sock');
    const client = join(this.dir, 'client.mjs');
    writeFileSync(client, CLIENT);
    for (const t of tools) {
      const w = join(this.dir, t);
      writeFileSync(w, `#!/bin/sh\nexec "${process.execPath}" "${client}" ${t} "$@"\n`);
      chmodSync(w, 0o755);
    }
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const srv = createServer((s: Socket) => {
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (d) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        let r: ToolResult;
        try {
          const req = JSON.parse(buf.slice(0, nl)) as { tool: string; argv: string[] };
          r = this.tools.includes(req.tool)
            ? this.handler(req.tool, req.argv)
            : { status: 127, stdout: '', stderr: `${req.tool}: not provided\n` };
        } catch (e) {
          r = { status: 1, stdout: '', stderr: `usnet drill: ${(e as Error).message}\n` };
        }
        s.end(JSON.stringify(r));
      });
      s.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.sockPath, () => resolve());
    });
    this.server = srv;
  }

  /** Run `command` with /bin/sh -c; bounded by `timeoutMs` (the child is killed after it). */
  async run(
    command: string,
    opts: { cwd: string; env: Record<string, string>; timeoutMs?: number },
  ): Promise<ShellResult> {
    await this.listen();
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      ...opts.env,
      PATH: `${this.dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      USNET_DRILL_SOCK: this.sockPath,
    };
    return await new Promise<ShellResult>((resolve) => {
      // As root, the command runs in a throw-away network namespace of its
      // own (unshare -n), so that a script's writes to /proc/sys/net or
      // device commands cannot touch the host's network: the host under
      // test is the simulated one, reached through the tool wrappers (a
      // Unix socket path works across network namespaces).
      const isolate = this.isolate && canUnshareNet();
      const [cmd, args] = isolate
        ? ['/usr/bin/unshare', ['-n', '/bin/sh', '-c', command]]
        : ['/bin/sh', ['-c', command]];
      const child = spawn(cmd, args, {
        cwd: opts.cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        stderr += `usnet drill: command timed out after ${opts.timeoutMs ?? 60000} ms\n`;
        child.kill('SIGKILL');
      }, opts.timeoutMs ?? 60000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ status: code ?? (signal ? 128 + 9 : 1), stdout, stderr });
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ status: 127, stdout, stderr: `${stderr}${e.message}\n` });
      });
    });
  }

  async close(): Promise<void> {
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
