import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/auth.decorator.js';
import { InodePipe } from '../common/inode.pipe.js';
import type { Page } from '../common/pagination.js';
import { NAMESPACE_TYPES } from '../kernel/procfs/namespace-types.js';
import { NamespaceListQuery } from './dto/namespace.query.js';
import { NamespaceDetailModel, type NamespaceModel, NamespacePageModel } from './namespace.models.js';
import { NamespacesService } from './namespaces.service.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';

@ApiTags('namespaces')
@Controller('v1/namespaces')
export class NamespacesController {
  constructor(private readonly namespaces: NamespacesService) {}

  @Get()
  @Allow('viewer')
  @ApiErrors('INVALID_CURSOR')
  @ApiOperation({ summary: 'What `lsns` prints: every namespace with its type, inode, process count, lowest pid, command and user' })
  @ApiOkResponse({ type: NamespacePageModel })
  list(@Query() query: NamespaceListQuery): Promise<Page<NamespaceModel>> {
    return this.namespaces.list(query);
  }

  @Get(':type/:inode')
  @Allow('viewer')
  @ApiErrors('NAMESPACE_NOT_FOUND')
  @ApiParam({ name: 'type', enum: NAMESPACE_TYPES })
  @ApiOperation({ summary: 'One namespace and every process in it, with the pid each has inside its own pid namespace' })
  @ApiOkResponse({ type: NamespaceDetailModel })
  one(@Param('type') type: string, @Param('inode', InodePipe) inode: number): Promise<NamespaceDetailModel> {
    return this.namespaces.detail(type, inode);
  }
}
