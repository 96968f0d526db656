// gatehouse.d.ts is generated from gatehouse.js's JSDoc: it must be current.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");

test("gatehouse.d.ts is what tsc makes of gatehouse.js (npm run types)", () => {
  const out = mkdtempSync(join(tmpdir(), "gatehouse-types-"));
  try {
    execFileSync(process.execPath, [join(dir, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json"),
      "--noEmit", "false", "--declaration", "--emitDeclarationOnly", "--outDir", out]);
    assert.equal(readFileSync(join(dir, "gatehouse.d.ts"), "utf8"), readFileSync(join(out, "gatehouse.d.ts"), "utf8"),
      "gatehouse.d.ts is stale: run npm run types");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
