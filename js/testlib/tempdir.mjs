// Temporary directories for the tests, removed when the test file that made them is done.
// It lives outside test/, so `node --test test/` does not run it as a test file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

const made = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A new directory under the system's temp dir, named `<prefix>XXXXXX`. */
export function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
