import { Controller, Delete, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import { type Page, paginate, PageQuery } from '../common/pagination.js';
import { keptOutcome, LeaseKeptModel, type LeaseModel, LeasePageModel } from './lease.models.js';
import { LeasesService } from './leases.service.js';

@ApiTags('leases')
@Controller('v1/leases')
export class LeasesController {
  constructor(private readonly leases: LeasesService) {}

  @Get()
  @Allow('viewer')
  @ApiErrors('INVALID_CURSOR')
  @ApiOperation({ summary: 'The leases nsgate holds (limit changes made with ttlSeconds), soonest expiry first' })
  @ApiOkResponse({ type: LeasePageModel })
  list(@Query() query: PageQuery): Page<LeaseModel> {
    return paginate(this.leases.list(), query.limit, query.cursor);
  }

  @Delete(':id')
  @Allow('operator')
  @ApiErrors('NOT_FOUND')
  @Audit('lease.kept', (i) => `lease:${String(i.params.id)}`, undefined, keptOutcome)
  @ApiParam({ name: 'id', description: 'the lease id a change answered' })
  @ApiOperation({ summary: 'Keep the change: the lease ends and nothing is put back (404 when it has already ended)' })
  @ApiOkResponse({ type: LeaseKeptModel })
  async keep(@Param('id') id: string): Promise<LeaseKeptModel> {
    return { id, result: 'kept', lease: await this.leases.keep(id) };
  }
}
