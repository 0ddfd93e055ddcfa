import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags, type OpenAPIObject } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorator.js';
import { DocsService } from './docs.service.js';

@ApiTags('docs')
@Controller()
export class DocsController {
  constructor(private readonly docs: DocsService) {}

  /** Public, like the page: they describe the routes, never the host's data (every route still wants its token). */
  @Get('openapi.json')
  @Public()
  @ApiOperation({ summary: 'The OpenAPI 3.1 document of every route (the committed openapi.json)' })
  @ApiOkResponse({ description: 'OpenAPI 3.1 document', schema: { type: 'object', required: ['openapi', 'info', 'paths'], properties: { openapi: { type: 'string' }, info: { type: 'object' }, paths: { type: 'object' } } } })
  openapi(): OpenAPIObject {
    return this.docs.openapi();
  }

  @Get('docs')
  @Public()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'")
  @ApiOperation({ summary: 'The API documentation as one self-contained page (no CDN)' })
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'Swagger UI with the document inlined; its Authorize button takes a token for "Try it out"', schema: { type: 'string' } })
  docsPage(): string {
    return this.docs.html();
  }
}
