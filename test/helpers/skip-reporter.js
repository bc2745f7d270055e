/**
 * A Jest reporter: after the run, ONE line naming the tests skipped because a server was missing (their describe
 * block is titled `[skipped] needs <what> (<why>; install: <command>)` by test/helpers/requirements.ts), and under
 * CI=true a failed run when anything at all was skipped (nothing may be skipped in CI).
 */
const MARK = /^\[skipped\] needs (\S+) \((.*)\)$/;

class SkipReporter {
  constructor() {
    this.error = undefined;
  }

  onRunComplete(_contexts, results) {
    /** needs -> { detail, tests, files } */
    const byNeed = new Map();
    let pending = 0;
    for (const file of results.testResults) {
      for (const test of file.testResults) {
        if (test.status !== 'pending' && test.status !== 'todo') continue;
        pending += 1;
        const match = test.ancestorTitles.map((t) => MARK.exec(t)).find(Boolean);
        if (!match) continue;
        const entry = byNeed.get(match[1]) ?? { detail: match[2], tests: 0, files: new Set() };
        entry.tests += 1;
        entry.files.add(file.testFilePath);
        byNeed.set(match[1], entry);
      }
    }
    if (byNeed.size > 0) {
      const parts = [...byNeed].map(
        ([need, e]) =>
          `${e.tests} test${e.tests === 1 ? '' : 's'} in ${e.files.size} file${e.files.size === 1 ? '' : 's'} ${e.tests === 1 ? 'needs' : 'need'} ${need} (${e.detail})`,
      );
      const color = process.stderr.isTTY ? ['\u001b[1;33m', '\u001b[0m'] : ['', ''];
      const line = `${color[0]}SKIPPED: ${parts.join('; ')}. Install it and run again; CI=true fails instead of skipping.${color[1]}`;
      // Jest prints its own summary after every reporter's onRunComplete: this line goes last, when Jest exits.
      process.once('exit', () => process.stderr.write(`\n${line}\n`));
    }
    if (process.env.CI === 'true' && pending > 0) {
      this.error = new Error(`CI=true: ${pending} tests were skipped; nothing may be skipped in CI`);
      process.stderr.write(`\n${this.error.message}\n`);
    }
  }

  getLastError() {
    return this.error;
  }
}

module.exports = SkipReporter;
