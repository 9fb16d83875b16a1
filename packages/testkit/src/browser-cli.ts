#!/usr/bin/env node
// `node browser-cli.js [--login NAME] [--user-code CODE] [--decline] URL`: what tests pass as
// `smtpkit login --browser-command`, which appends the URL as the last argument.
import { runScriptedBrowser } from './scripted-browser.js';

const args = process.argv.slice(2);
const url = args.pop();
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
if (!url || !/^https?:\/\//.test(url)) {
  process.stderr.write('usage: scripted-browser [--login NAME] [--user-code CODE] [--decline] URL\n');
  process.exit(64);
}
try {
  const result = await runScriptedBrowser(url, {
    login: flag('--login'),
    userCode: flag('--user-code'),
    decline: args.includes('--decline'),
  });
  if (result.status >= 400) {
    process.stderr.write(`scripted browser: the last page answered ${result.status}\n`);
    process.exit(1);
  }
} catch (error) {
  process.stderr.write(`scripted browser: ${(error as Error).message}\n`);
  process.exit(1);
}
