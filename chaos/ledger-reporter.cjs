const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const COLUMNS = [
  ['fault', 'fault'],
  ['injected', 'times injected'],
  ['checkedIn', 'checked in'],
  ['checked', 'entries checked'],
  ['lost', 'lost'],
  ['doubled', 'doubled'],
  ['wrong', 'wrong'],
];

/**
 * Prints the table of every fault the suite injected and what the data checks found, and fails the
 * run if anything was lost, doubled or wrong. Tests append their rows to the file named by
 * CHAOS_LEDGER (set here, before any test runs, so every test process inherits it).
 */
class LedgerReporter {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'temps-chaos-'));
    this.file = join(this.dir, 'ledger.jsonl');
    process.env.CHAOS_LEDGER = this.file;
    this.error = undefined;
  }

  onRunComplete() {
    let rows = [];
    try {
      rows = readFileSync(this.file, 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse);
    } catch {
      // No test recorded a row.
    }
    rmSync(this.dir, { recursive: true, force: true });
    const cells = rows.map((row) =>
      COLUMNS.map(([key]) =>
        typeof row[key] === 'number' ? row[key].toLocaleString('en-US') : String(row[key]),
      ),
    );
    const widths = COLUMNS.map(([, title], i) =>
      Math.max(title.length, ...cells.map((line) => line[i].length)),
    );
    const format = (line) =>
      `| ${line.map((cell, i) => (i === 0 || i === 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
    const table = [
      format(COLUMNS.map(([, title]) => title)),
      `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...cells.map(format),
    ];
    const notes = rows.filter((row) => row.notes).map((row) => `${row.fault}: ${row.notes}`);
    process.stdout.write(`\nChaos results\n${[...table, ...notes].join('\n')}\n`);
    const failed = rows.filter((row) => row.lost + row.doubled + row.wrong > 0);
    if (failed.length > 0) {
      this.error = new Error(
        `Data lost, doubled or wrong after: ${failed.map((row) => row.fault).join('; ')}`,
      );
    }
  }

  getLastError() {
    return this.error;
  }
}

module.exports = LedgerReporter;
