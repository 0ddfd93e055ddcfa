import { Args, Query, Resolver } from '@nestjs/graphql';
import { Allow } from '../auth/auth.decorator.js';
import { DEFAULT_PAGE } from '../common/pagination.js';
import { AuditPageModel } from './audit.models.js';
import { AuditService } from './audit.service.js';
import { AuditQuery, toAuditFilter } from './dto/audit-query.dto.js';

@Resolver()
export class AuditResolver {
  constructor(private readonly audit: AuditService) {}

  @Query(() => AuditPageModel, { description: 'The audit log, newest first (admin)' })
  @Allow('admin')
  auditLog(@Args() args: AuditQuery): Promise<AuditPageModel> {
    return this.audit.read(toAuditFilter(args), args.limit ?? DEFAULT_PAGE, args.cursor) as Promise<AuditPageModel>;
  }
}
