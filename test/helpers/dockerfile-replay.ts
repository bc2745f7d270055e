/**
 * Replays the repository's Dockerfile without a Docker engine: each stage is a folder, `/app` (WORKDIR) is that
 * folder and `/data` a folder beside it; COPY copies from the repository or from another stage's folder; ENV, USER,
 * HEALTHCHECK and CMD are read for the run. RUN steps are replayed as follows, and any other RUN fails the replay
 * (so a change to the Dockerfile needs a change here, and the test stays a replay, not a paraphrase):
 *  - `apt-get …` (the build toolchain) is not run: this machine has python3, make and g++ already;
 *  - `npm ci --omit=dev …` runs as written plus `--ignore-scripts --prefer-offline`, then better-sqlite3's addon is
 *    the repository's own build (what its install script would compile, see ./production-install.ts);
 *  - `npm ci …` with the dev dependencies is not run: the repository's node_modules (the same lockfile, installed)
 *    is linked in its place;
 *  - `npm run build` runs as written;
 *  - `mkdir -p <dir> && chown <user> <dir>` makes the folder, owned by the user the replay runs as.
 */
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { npm, reuseNativeAddons, ROOT, type RunAs } from './production-install';

export interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's instructions, with line continuations joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!current && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  return logical.map((l) => {
    const space = l.indexOf(' ');
    return { op: l.slice(0, space).toUpperCase(), args: l.slice(space + 1).trim() };
  });
}

export interface ReplayedImage {
  /** The final stage's folder (the image's /app). */
  app: string;
  /** The image's /data. */
  data: string;
  /** ENV of the final stage, paths mapped to the folders. */
  env: Record<string, string>;
  user: string;
  cmd: string[];
  healthcheck: string[];
  /** What the replay did for each RUN, for the test's log. */
  log: string[];
}

export function replayDockerfile(
  dockerfile: string,
  workDir: string,
  runAs: RunAs | undefined,
): ReplayedImage {
  const instructions = parseDockerfile(readFileSync(dockerfile, 'utf8'));
  const stages = new Map<string, string>();
  const data = path.join(workDir, 'data');
  const log: string[] = [];
  let app = '';
  let env: Record<string, string> = {};
  let user = 'root';
  let cmd: string[] = [];
  let healthcheck: string[] = [];
  const mapPath = (p: string, base = app): string =>
    p.startsWith('/app')
      ? path.join(base, p.slice(4))
      : p.startsWith('/data')
        ? path.join(data, p.slice(5))
        : p;

  for (const { op, args } of instructions) {
    switch (op) {
      case 'ARG':
      case 'VOLUME':
      case 'EXPOSE':
        break;
      case 'FROM': {
        const [base, as, name] = args.split(/\s+/);
        app = path.join(workDir, `stage-${stages.size}${name ? `-${name}` : ''}`);
        const from = base ? stages.get(base) : undefined;
        if (from) cpSync(from, app, { recursive: true, verbatimSymlinks: true });
        else mkdirSync(app, { recursive: true });
        if (as?.toUpperCase() === 'AS' && name) stages.set(name, app);
        env = {};
        user = 'root';
        break;
      }
      case 'WORKDIR':
        if (args !== '/app') throw new Error(`the replay maps WORKDIR /app only, not ${args}`);
        break;
      case 'ENV':
        for (const [, key, value] of args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) {
          env[key!] = mapPath(value!);
        }
        break;
      case 'USER':
        user = args;
        break;
      case 'CMD':
        cmd = JSON.parse(args) as string[];
        break;
      case 'HEALTHCHECK': {
        const at = args.indexOf('CMD ');
        healthcheck = JSON.parse(args.slice(at + 4)) as string[];
        break;
      }
      case 'COPY': {
        const words = args.split(/\s+/);
        const fromFlag = words[0]?.startsWith('--from=') ? words.shift()!.slice(7) : undefined;
        const dest = words.pop()!;
        const sourceBase = fromFlag ? stages.get(fromFlag) : ROOT;
        if (!sourceBase) throw new Error(`COPY --from=${fromFlag}: no such stage`);
        const target = path.resolve(app, mapPath(dest));
        const intoDir = dest.endsWith('/') || dest === '.' || words.length > 1;
        for (const source of words) {
          const from = fromFlag ? mapPath(source, sourceBase) : path.join(ROOT, source);
          if (!existsSync(from)) throw new Error(`COPY ${source}: not found at ${from}`);
          const to = intoDir ? path.join(target, path.basename(from)) : target;
          cpSync(from, to, { recursive: true, verbatimSymlinks: true });
        }
        break;
      }
      case 'RUN':
        log.push(run(args, app, data, runAs));
        break;
      default:
        throw new Error(`the replay does not know the instruction ${op}`);
    }
  }
  return { app, data, env, user, cmd, healthcheck, log };
}

function run(command: string, app: string, data: string, runAs: RunAs | undefined): string {
  if (command.startsWith('apt-get ')) return `not run (this machine has the toolchain): ${command}`;
  const npmCi = /^npm ci(.*)$/.exec(command);
  if (npmCi && /--omit=dev\b/.test(npmCi[1]!)) {
    const args = npmCi[1]!.trim().split(/\s+/).filter(Boolean);
    npm(['ci', ...args, '--ignore-scripts', '--prefer-offline'], app);
    return `${command} --ignore-scripts --prefer-offline; ${reuseNativeAddons(app)}`;
  }
  if (npmCi) {
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
    return `not run: the repository's installed node_modules (same lockfile) stands in for: ${command}`;
  }
  if (command === 'npm run build') {
    npm(['run', 'build'], app);
    return command;
  }
  const dataDir = /^mkdir -p (\/\S+) && chown \S+ (\/\S+)$/.exec(command);
  if (dataDir && dataDir[1] === dataDir[2] && dataDir[1]!.startsWith('/data')) {
    const dir = path.join(data, dataDir[1]!.slice(5));
    mkdirSync(dir, { recursive: true });
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
    chmodSync(dir, 0o755);
    return `${command} (owned by ${runAs?.name ?? 'this user'})`;
  }
  throw new Error(`the replay does not know how to run: ${command}`);
}
