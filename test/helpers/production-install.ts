/**
 * What the production tests share: running npm, reusing the repository's compiled better-sqlite3 in a fresh
 * install (so the test does not compile it for minutes), the unprivileged user to run as, and a started bridge
 * process with its output.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/** Runs npm (the one on the PATH) in `cwd`; throws with its output when it fails. */
export function npm(args: string[], cwd: string): string {
  try {
    return execFileSync('npm', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `npm ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

function versionOf(packageDir: string): string {
  return (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string })
    .version;
}

/**
 * A production install made with `--ignore-scripts` lacks better-sqlite3's compiled addon. The repository has it,
 * built for this Node by `npm ci`: the same version's file is copied in (what the install script would have built).
 * Another version is built the slow way, with its own install script (`npm rebuild`). `packageDir` is the folder of
 * the package that uses it (better-sqlite3 is found from there as Node finds it). Returns what was done.
 */
export function reuseNativeAddons(packageDir: string, installDir = packageDir): string {
  const installed = path.dirname(require.resolve('better-sqlite3/package.json', { paths: [packageDir] }));
  if (!installed.startsWith(installDir))
    throw new Error(`better-sqlite3 resolved outside ${installDir}: ${installed}`);
  const wanted = versionOf(installed);
  const ours = path.join(ROOT, 'node_modules', 'better-sqlite3');
  const source = path.join(ours, 'build', 'Release', 'better_sqlite3.node');
  if (versionOf(ours) === wanted && existsSync(source)) {
    const release = path.join(installed, 'build', 'Release');
    mkdirSync(release, { recursive: true });
    copyFileSync(source, path.join(release, 'better_sqlite3.node'));
    return `better-sqlite3 ${wanted}: the repository's compiled addon reused`;
  }
  npm(['rebuild', 'better-sqlite3', '--foreground-scripts'], installDir);
  return `better-sqlite3 ${wanted}: compiled by npm rebuild (the repository has another version)`;
}

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

function userIds(name: string): RunAs | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { stdio: 'pipe' }).toString().trim());
    const gid = Number(execFileSync('id', ['-g', name], { stdio: 'pipe' }).toString().trim());
    return { uid, gid, name };
  } catch {
    return undefined;
  }
}

/** As root: `preferred` (the image's user) when this machine has it, else `nobody`. Else: this user. */
export function unprivilegedUser(preferred: string): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const user = userIds(preferred) ?? userIds('nobody');
  if (!user) throw new Error(`running as root, and there is neither a "${preferred}" nor a "nobody" user`);
  return user;
}

export interface BridgeProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  /** Polls `url` until it answers `status`; rejects with the process output when it does not in time. */
  waitFor(url: string, status?: number, timeoutMs?: number): Promise<void>;
}

export function startProcess(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; user?: RunAs },
): BridgeProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  return {
    child,
    exited,
    output: () => output,
    async waitFor(url, status = 200, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer';
      while (Date.now() < deadline) {
        if (exitCode !== undefined) throw new Error(`the process exited (${exitCode}):\n${output}`);
        const answer = await fetch(url).then(
          (r) => r.status,
          (e: Error) => e.message,
        );
        if (answer === status) return;
        last = String(answer);
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${url} answered ${last}, not ${status}, within ${timeoutMs} ms:\n${output}`);
    },
  };
}
