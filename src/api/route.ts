import type { IncomingHttpHeaders } from 'node:http';
import type { z } from 'zod';
import type { PipelineCaller } from '../core';

/** What a handler gets: the authenticated pipeline and the parsed parts of the call. */
export interface Call<Body> {
  caller: PipelineCaller;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Body;
  headers: IncomingHttpHeaders;
  /** Aborted when the caller hangs up. */
  signal: AbortSignal;
  /**
   * The caller authenticated again, as a new call would be: a handler that answers long after it
   * was called (a wait) must not answer a token revoked, or expired, meanwhile.
   */
  recheck(): Promise<PipelineCaller>;
}

export interface QueryParam {
  name: string;
  description: string;
  schema: z.ZodType;
}

/**
 * One endpoint: how it is called, what it answers, and its handler. The router serves these and
 * openapi.ts describes them, from the same schemas.
 */
export interface Route<Body = unknown> {
  method: 'GET' | 'POST';
  /** Below /api/v1, with `{name}` for path parameters. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  /** Omitted: no authentication (the OpenAPI document). */
  authenticated: boolean;
  body?: z.ZodType<Body>;
  /** A body may be left out entirely (then it is `{}`). */
  bodyOptional?: boolean;
  query?: QueryParam[];
  ok: { status: 200 | 201; description: string; schema: z.ZodType };
  /** The problem statuses it may answer, besides 401, 429 and 500. */
  problems: number[];
  handle(call: Call<Body>): Promise<Answer>;
}

export interface Answer {
  body: unknown;
  headers?: Record<string, string>;
}

/** Keeps a route's body type attached to its handler. */
export function route<Body>(r: Route<Body>): Route {
  return r as Route;
}
