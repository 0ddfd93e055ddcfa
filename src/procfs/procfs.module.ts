import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { ProcessScanner } from '../kernel/scan/process-scanner.js';

/** The one /proc scanner of the process (worker threads), shared by every feature. */
@Global()
@Module({
  providers: [{ provide: ProcessScanner, inject: [CONFIG], useFactory: (config: Config) => new ProcessScanner({ procRoot: config.procRoot, workers: config.scanWorkers }) }],
  exports: [ProcessScanner],
})
export class ProcfsModule implements OnApplicationShutdown {
  constructor(@Inject(ProcessScanner) private readonly scanner: ProcessScanner) {}

  async onApplicationShutdown(): Promise<void> {
    await this.scanner.close();
  }
}
