import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const SDK_DIR = path.resolve(__dirname, '../../..');
const RING_SOURCE = path.join(SDK_DIR, 'src', 'routing', 'ring.ts');

/**
 * Compiles routing/ring.ts (and what it imports) with tsc and the SDK's build configuration into
 * a fresh temporary directory (the caller removes `outDir`), and returns the emitted ring.js.
 *
 * Why not require packages/sdk/dist: dist may be stale (built before the source under test
 * changed) or half-written by a concurrent build, and rebuilding all of it would make this test
 * fail on errors in unrelated files. Compiling just this module's import closure tests exactly
 * the source in the working tree, the way the published build compiles it.
 */
export function compileRing(): { ringJs: string; outDir: string } {
  const outDir = mkdtempSync(path.join(tmpdir(), 'sessioncache-ring-'));
  const configPath = path.join(SDK_DIR, 'tsconfig.build.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    { outDir, declaration: false, declarationMap: false, sourceMap: false, incremental: false },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail(d) },
  );
  if (!parsed) throw new Error(`cannot read ${configPath}`);
  const program = ts.createProgram([RING_SOURCE], parsed.options);
  const result = program.emit();
  const errors = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0 || result.emitSkipped) fail(...errors);
  return { ringJs: path.join(outDir, 'routing', 'ring.js'), outDir };
}

function fail(...diagnostics: ts.Diagnostic[]): never {
  const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => SDK_DIR, getNewLine: () => '\n' };
  throw new Error(`tsc failed on ${RING_SOURCE}:\n${ts.formatDiagnostics(diagnostics, host)}`);
}
