import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, type OpenAPIObject } from '@nestjs/swagger';
import { Allow } from '../auth/auth.decorator.js';
import { DocsService } from './docs.service.js';

@ApiTags('docs')
@Controller()
export class DocsController {
  constructor(private readonly docs: DocsService) {}

  @Get('openapi.json')
  @Allow('viewer')
  @ApiOperation({ summary: 'The OpenAPI document of every route' })
  @ApiOkResponse({ description: 'OpenAPI 3 document' })
  openapi(): OpenAPIObject {
    return this.docs.openapi();
  }

  @Get('docs')
  @Allow('viewer')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:")
  @ApiOperation({ summary: 'The API documentation as one self-contained page (no CDN)' })
  @ApiProduces('text/html')
  docsPage(): string {
    return this.docs.html();
  }
}
