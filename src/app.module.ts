import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import { AuditModule } from './audit/audit.module.js';
import { ChangesModule } from './changes/changes.module.js';
import { IdempotencyModule } from './changes/idempotency.module.js';
import { AuthModule } from './auth/auth.module.js';
import { GlobalExceptionFilter } from './common/exception.filter.js';
import { validationPipe } from './common/validation.js';
import { type Config } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { EngineModule } from './engine/engine.module.js';
import { GraphqlOptions } from './graphql/graphql.options.js';
import { QueryCostModule } from './graphql/query-cost.js';
import { HealthModule } from './health/health.module.js';
import { HistoryModule } from './history/history.module.js';
import { HostModule } from './host/host.module.js';
import { DocsModule } from './docs/docs.module.js';
import { EventsModule } from './events/events.module.js';
import { ExecModule } from './exec/exec.module.js';
import { LeasesModule } from './leases/leases.module.js';
import { loggerOptions } from './logging.js';
import { CgroupsModule } from './cgroups/cgroups.module.js';
import { ContainersModule } from './containers/containers.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { NamespacesModule } from './namespaces/namespaces.module.js';
import { ProcessesModule } from './processes/processes.module.js';
import { ProcfsModule } from './procfs/procfs.module.js';
import { SecurityModule } from './security/security.module.js';

@Module({})
export class AppModule {
  static register(config: Config): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.register(config),
        LoggerModule.forRoot(loggerOptions(config)),
        ThrottlerModule.forRoot([{ ttl: 60_000, limit: config.rateLimitPerMinute }]),
        AuthModule,
        AuditModule,
        LeasesModule,
        IdempotencyModule,
        ChangesModule,
        MetricsModule,
        EngineModule,
        QueryCostModule,
        GraphQLModule.forRootAsync<ApolloDriverConfig>({ driver: ApolloDriver, imports: [AuthModule], useClass: GraphqlOptions }),
        HealthModule,
        DocsModule,
        HostModule,
        ProcfsModule,
        ProcessesModule,
        NamespacesModule,
        CgroupsModule,
        ContainersModule,
        ExecModule,
        SecurityModule,
        EventsModule,
        HistoryModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: GlobalExceptionFilter },
        { provide: APP_PIPE, useValue: validationPipe() },
      ],
    };
  }
}
