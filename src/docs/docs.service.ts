import { Injectable } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The OpenAPI document and a page that shows it. The document is built on the first request
 * that needs it, not at start-up (building it walks every route and DTO: a few hundred ms that
 * no other request waits for), then kept.
 */
@Injectable()
export class DocsService {
  private build: (() => OpenAPIObject) | undefined;
  private document: OpenAPIObject | undefined;
  private page: string | undefined;

  /** How to build the document, once the app's routes exist; it is built on first use. */
  setDocumentFactory(build: () => OpenAPIObject): void {
    this.build = build;
    this.document = undefined;
    this.page = undefined;
  }

  openapi(): OpenAPIObject {
    if (!this.document) {
      if (!this.build) throw new Error('the OpenAPI document is not built yet');
      this.document = this.build();
    }
    return this.document;
  }

  /**
   * One self-contained HTML page: Swagger UI's script and style are inlined from the
   * swagger-ui-dist package, and so is the document. Nothing loads from a CDN.
   */
  html(): string {
    if (!this.page) {
      const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
      const script = readFileSync(join(dist, 'swagger-ui-bundle.js'), 'utf8');
      const style = readFileSync(join(dist, 'swagger-ui.css'), 'utf8');
      const spec = JSON.stringify(this.openapi()).replace(/</g, '\\u003c');
      this.page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nsgate API</title>
<style>${style}</style></head>
<body><div id="ui"></div>
<script>${script.replace(/<\/script/gi, '<\\/script')}</script>
<script>SwaggerUIBundle({ spec: ${spec}, dom_id: '#ui', deepLinking: true });</script>
</body></html>`;
    }
    return this.page;
  }
}
