import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { unwatchFile, watchFile } from 'node:fs';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { NsgateError } from '../kernel/errors.js';
import { bearerToken } from './bearer.js';
import type { Caller } from './roles.js';
import { bootstrapTokens, TokenStore } from './token-store.js';

@Injectable()
export class AuthService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('auth');
  private store = new TokenStore([]);

  constructor(@Inject(CONFIG) private readonly config: Config) {}

  async onModuleInit(): Promise<void> {
    const written = await bootstrapTokens(this.config.tokensFile, this.config.adminTokenFile);
    if (written) this.logger.log(`first start: created ${this.config.tokensFile}; the admin token is in ${written} (mode 0600)`);
    this.store = await TokenStore.load(this.config.tokensFile);
    // tokens added with `npm run token` take effect without a restart
    watchFile(this.config.tokensFile, { interval: 1000, persistent: false }, () => void this.reload());
  }

  onModuleDestroy(): void {
    unwatchFile(this.config.tokensFile);
  }

  private async reload(): Promise<void> {
    try {
      this.store = await TokenStore.load(this.config.tokensFile);
      this.logger.log(`reloaded ${this.config.tokensFile}: ${this.store.size} token(s)`);
    } catch (err) {
      this.logger.error(`kept the previous tokens: ${(err as Error).message}`);
    }
  }

  /** The caller behind an Authorization header; throws UNAUTHENTICATED otherwise. */
  authenticate(header: string | string[] | undefined): Caller {
    const token = bearerToken(header);
    if (!token) throw new NsgateError('UNAUTHENTICATED', 'send Authorization: Bearer <token>');
    const caller = this.store.authenticate(token);
    if (!caller) throw new NsgateError('UNAUTHENTICATED', 'unknown token');
    return caller;
  }
}
