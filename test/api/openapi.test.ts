import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { describeApi } from '../../src/api';

const COMMITTED = join(__dirname, '..', '..', 'docs', 'openapi.json');

describe('the OpenAPI document', () => {
  const document = describeApi() as {
    openapi: string;
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    components: { schemas: Record<string, object> };
  };

  it('is committed as generated (run `npm run openapi` after changing the API)', () => {
    expect(JSON.parse(readFileSync(COMMITTED, 'utf8'))).toEqual(document);
  });

  it('is OpenAPI 3.1 whose component schemas compile as JSON Schema 2020-12', () => {
    expect(document.openapi).toBe('3.1.0');
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ $id: 'doc', components: document.components });
    for (const name of Object.keys(document.components.schemas)) {
      expect(() => ajv.getSchema(`doc#/components/schemas/${name}`)).not.toThrow();
      expect(ajv.getSchema(`doc#/components/schemas/${name}`)).toBeDefined();
    }
  });

  it('describes every endpoint with its problems', () => {
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /api/v1/grants/{id}',
        'GET /api/v1/openapi.json',
        'GET /api/v1/requests/{id}',
        'GET /api/v1/requests/{id}/wait',
        'GET /api/v1/resources',
        'POST /api/v1/grants/{id}/extend',
        'POST /api/v1/grants/{id}/revoke',
        'POST /api/v1/requests',
        'POST /api/v1/requests/{id}/cancel',
      ].sort(),
    );
    const create = document.paths['/api/v1/requests']!.post!.responses;
    expect(Object.keys(create).sort()).toEqual(
      ['201', '400', '401', '403', '409', '415', '422', '429', '500'].sort(),
    );
  });
});
