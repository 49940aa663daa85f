import { z } from 'zod';
import { API_PREFIX } from './routes';
import type { Route } from './route';
import * as schemas from './schemas';

const STANDARD_PROBLEMS = [401, 429, 500];

const PROBLEM_TEXT: Record<number, string> = {
  400: 'The body is not JSON.',
  401: 'No credentials, or an API token or ID token that does not verify.',
  403: 'Policy does not let this caller do it.',
  404: 'No such request or grant of this caller.',
  409: 'The request or grant is not in a state that allows it.',
  415: 'The body is not `application/json`.',
  422: 'A field is invalid; `detail` and `errors` say which and why.',
  429: 'Too many calls, or too many requests filed; `Retry-After` says when to try again.',
  500: 'Hallpass failed; its logs say why.',
};

/**
 * The OpenAPI 3.1 document of the routes, generated from the zod schemas they parse and answer
 * with: components from the schemas' `id`s, operations from the route table.
 */
export function openApiDocument(
  routes: readonly Route[],
  version: string,
): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  const named = new Map<z.ZodType, string>();
  const name = (schema: z.ZodType): string => {
    const id = (schema.meta() as { id?: string } | undefined)?.id;
    if (!id) throw new Error('every schema the API answers with needs .meta({ id })');
    if (!named.has(schema)) {
      named.set(schema, id);
      registry.add(schema, { id });
    }
    return id;
  };
  // Every named schema is a component, so nested ones are referenced rather than inlined.
  for (const schema of Object.values(schemas)) name(schema);
  for (const r of routes) {
    if (r.body) name(r.body);
    name(r.ok.schema);
  }
  const components = (
    z.toJSONSchema(registry, {
      target: 'draft-2020-12',
      uri: (id) => `#/components/schemas/${id}`,
    }) as { schemas: Record<string, Record<string, unknown>> }
  ).schemas;
  for (const schema of Object.values(components)) {
    delete schema.$schema;
    delete schema.$id;
  }
  const ref = (schema: z.ZodType) => ({ $ref: `#/components/schemas/${name(schema)}` });
  const problem = (status: number) => ({
    description: PROBLEM_TEXT[status] ?? 'A problem.',
    content: { 'application/problem+json': { schema: ref(schemas.Problem) } },
  });

  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const query = (r.query ?? []).map((q) => ({
      name: q.name,
      in: 'query',
      required: false,
      description: q.description,
      schema: z.toJSONSchema(q.schema, { target: 'draft-2020-12' }),
    }));
    for (const q of query) delete (q.schema as Record<string, unknown>).$schema;
    const statuses = [
      ...new Set([...r.problems, ...(r.authenticated ? STANDARD_PROBLEMS : [500])]),
    ];
    (paths[`${API_PREFIX}${r.path}`] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      ...(r.authenticated ? {} : { security: [] }),
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: !r.bodyOptional,
              content: { 'application/json': { schema: ref(r.body) } },
            },
          }
        : {}),
      responses: {
        [String(r.ok.status)]: {
          description: r.ok.description,
          content: { 'application/json': { schema: ref(r.ok.schema) } },
        },
        ...Object.fromEntries(statuses.sort().map((s) => [String(s), problem(s)])),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hallpass API',
      version,
      description:
        'Just-in-time access for pipelines and scripts: ask for access, wait for the decision, use and give back the grant. Errors are RFC 9457 problem documents.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A Hallpass API token (`hpt_…`, from `hallpass tokens create`) or an OpenID Connect ID token from a CI issuer listed under `api.oidc`.',
        },
      },
      schemas: components,
    },
    paths,
  };
}
