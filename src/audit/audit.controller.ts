import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/auth.decorator.js';
import { AuditService } from './audit.service.js';
import { AuditPageModel } from './audit.models.js';
import { AuditQuery, toAuditFilter } from './dto/audit-query.dto.js';
import { DEFAULT_PAGE } from '../common/pagination.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';

@ApiTags('audit')
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Allow('admin')
  @ApiErrors('INVALID_CURSOR', 'AUDIT_UNAVAILABLE')
  @ApiOperation({ summary: 'The audit log, newest first' })
  @ApiOkResponse({ type: AuditPageModel })
  list(@Query() query: AuditQuery): Promise<AuditPageModel> {
    return this.audit.read(toAuditFilter(query), query.limit ?? DEFAULT_PAGE, query.cursor) as Promise<AuditPageModel>;
  }
}
