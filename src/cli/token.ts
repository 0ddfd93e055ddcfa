import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isRole, Roles } from '../auth/roles.js';
import { addToken, parseTokensFile, TokensFileError } from '../auth/token-store.js';
import { ConfigError, loadConfig } from '../config/config.js';

const USAGE = `usage:
  npm run token -- add --name NAME --role viewer|operator|admin   prints the new token once
  npm run token -- list                                            names and roles, never tokens
The tokens file is $NSGATE_TOKENS_FILE, else $NSGATE_DATA_DIR/tokens.json; a running
nsgate picks up changes within a second.`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { tokensFile } = loadConfig();
  switch (positionals[0]) {
    case 'add': {
      if (!values.name || !values.role) throw new UsageError('add needs --name and --role');
      if (!isRole(values.role)) throw new UsageError(`--role must be one of ${Roles.join(', ')}`);
      const token = await addToken(tokensFile, values.name, values.role);
      process.stderr.write(`added ${values.role} token "${values.name}" to ${tokensFile}; it is shown once:\n`);
      process.stdout.write(`${token}\n`);
      return 0;
    }
    case 'list': {
      const entries = parseTokensFile(tokensFile, await readFile(tokensFile, 'utf8'));
      for (const e of entries) process.stdout.write(`${e.name}\t${e.role}\n`);
      return 0;
    }
    default:
      throw new UsageError(positionals[0] ? `unknown command "${positionals[0]}"` : 'no command');
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof UsageError || err instanceof TokensFileError || err instanceof ConfigError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
    process.stderr.write(`nsgate token: ${(err as Error).message}\n${err instanceof UsageError ? `${USAGE}\n` : ''}`);
    process.exit(known ? 2 : 1);
  },
);
