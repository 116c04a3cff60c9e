import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ServiceName } from './supervisor.js';

/**
 * `pnpm start --check-config`: each service checks its own configuration (`--check-config` in
 * its main.ts), with the environment the launcher would start it with. Resolves with 0 when all
 * three are valid, else 2.
 */
export async function checkConfig(root: string, services: readonly ServiceName[]): Promise<number> {
  const codes = await Promise.all(
    services.map(async (name) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(root, 'services', name, 'src', 'main.ts'), '--check-config'],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const output: string[] = [];
      child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      const code = await new Promise<number | null>((resolveExit) => child.once('close', resolveExit));
      return { name, code, text: output.join('').trimEnd() };
    }),
  );
  for (const { name, code, text } of codes) {
    (code === 0 ? process.stdout : process.stderr).write(`${name}: ${text}\n`);
  }
  return codes.every(({ code }) => code === 0) ? 0 : 2;
}
