#!/usr/bin/env node
// The `accord` command. In a checkout it runs the TypeScript source through tsx, so it works right
// after `npm ci` with nothing built; in the image, which has no src/, it runs the compiled dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import('../dist/cli/main.js');
}
process.exit(await cli.runCli(process.argv.slice(2)));
